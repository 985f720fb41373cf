"""Property tests. R4: any change to a link's token is refused and changes nothing. R5: over random sequences
of operations, a mandatory topic is never denied to an active recipient with an address on the channel,
except `sms_stop` on SMS."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from twilio.request_validator import RequestValidator

EXAMPLES = int(os.environ.get("PREFS_PROPERTY_EXAMPLES", "60"))
URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
from prefs.channels import CHANNELS


# --- R4 -------------------------------------------------------------------------------------------------
@st.composite
def mutations(draw, token: str):
    kind = draw(st.sampled_from(["replace", "delete", "insert", "truncate", "swap"]))
    position = draw(st.integers(0, len(token) - 1))
    if kind == "replace":
        return token[:position] + draw(st.sampled_from(URL_SAFE.replace(token[position], ""))) + token[position + 1 :]
    if kind == "delete":
        return token[:position] + token[position + 1 :]
    if kind == "insert":
        return token[:position] + draw(st.sampled_from(URL_SAFE)) + token[position:]
    if kind == "truncate":
        return token[: max(1, position)]
    other = draw(st.integers(0, len(token) - 1))
    chars = list(token)
    chars[position], chars[other] = chars[other], chars[position]
    return "".join(chars)


def test_r4_every_changed_token_is_refused_and_changes_nothing(api, client, newsletter, person):
    links = api.post("/links", {"recipient_id": "cust-1", "topic": "newsletter", "message_id": "m-1"}).get_json()
    tokens = {
        prefix: url.rsplit("/", 1)[-1] for prefix, url in (("u", links["unsubscribe_url"]), ("p", links["preferences_url"]))
    }
    before = (api.get("/recipients/cust-1/preferences").get_json(), api.get("/recipients/cust-1/events").get_json())

    @given(data=st.data(), prefix=st.sampled_from(["u", "p"]), method=st.sampled_from(["GET", "POST"]))
    @settings(max_examples=EXAMPLES * 5, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def attack(data, prefix, method):
        token = tokens[prefix]
        mutated = data.draw(mutations(token))
        if mutated == token:
            return
        body = {"List-Unsubscribe": "One-Click"} if prefix == "u" else {"newsletter:email": "", "stop_all": "on"}
        response = client.open(f"/{prefix}/{mutated}", method=method, data=body if method == "POST" else None)
        # 429: the rate limits on bad links (per address, per link) refused it before the token was read,
        # which hundreds of forged links from one test client soon reach; a refusal all the same.
        assert response.status_code in (400, 410, 429), (mutated, response.status_code)

    attack()
    # The other purpose's token is refused too.
    assert client.post(f"/u/{tokens['p']}", data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert (api.get("/recipients/cust-1/preferences").get_json(), api.get("/recipients/cust-1/events").get_json()) == before


# --- R5 -------------------------------------------------------------------------------------------------
@pytest.mark.slow  # long random sequences
def test_r5_mandatory_topics_always_reach_an_active_person(api, app, client, newsletter):
    api.post(
        "/topics",
        {"key": "offers", "name": "Offers", "channels": ["email", "sms", "post"], "default_subscribed": {"email": True}},
    )
    api.post("/topics", {"key": "security", "name": "Security alerts", "mandatory": True, "channels": ["email", "sms", "phone"]})
    mandatory = ("billing", "service", "security")
    seeded = ("email", "sms", "phone", "post")  # migration 0001 puts service and billing on these
    SENT_ON = {"billing": seeded, "service": seeded, "security": ("email", "sms", "phone")}  # noqa: N806
    topics = ("newsletter", "offers") + mandatory
    counter = iter(range(10**6))

    class Operations(RuleBasedStateMachine):
        @initialize(email=st.booleans(), phone=st.booleans(), post=st.booleans())
        def person(self, email, phone, post):
            self.id = f"r5-{next(counter)}"
            self.phone = f"+1415555{next(counter) % 10000:04d}"
            body = {"email": f"{self.id}@example.com" if email else None, "phone": self.phone if phone else None}
            if post:
                body["postal_address"] = {"lines": ["1 Main St"], "country": "US"}
            assert api.put(f"/recipients/{self.id}", body).status_code == 201
            self.status = "active"

        @rule(topic=st.sampled_from(topics + (None,)), channel=st.sampled_from(CHANNELS + (None,)), subscribed=st.booleans())
        def patch(self, topic, channel, subscribed):
            change = {
                "subscribed": subscribed,
                **({"topic": topic} if topic else {}),
                **({"channel": channel} if channel else {}),
            }
            response = api.patch(f"/recipients/{self.id}/preferences", {"changes": [change]})
            assert response.status_code in (200, 422), response.get_json()
            if topic in mandatory and not subscribed and (channel is None or channel in SENT_ON[topic]):
                assert response.get_json()["error"]["code"] == "mandatory_topic"  # refused, whatever else

        @rule(
            topic=st.sampled_from(("newsletter", "offers", None)), channel=st.sampled_from(("email", "sms")), undo=st.booleans()
        )
        def click(self, topic, channel, undo):
            response = api.post("/links", {"recipient_id": self.id, "channel": channel, **({"topic": topic} if topic else {})})
            if response.status_code != 200:
                return  # e.g. the topic is not sent on that channel
            path = response.get_json()["unsubscribe_url"].removeprefix("https://prefs.example.com")
            assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
            if undo:
                assert client.post(path + "/undo").status_code == 200

        @rule(boxes=st.sets(st.sampled_from([f"{t}:{c}" for t in topics for c in CHANNELS] + ["*:email", "*:sms", "stop_all"])))
        def preference_center(self, boxes):
            url = (
                api.post("/links", {"recipient_id": self.id})
                .get_json()["preferences_url"]
                .removeprefix("https://prefs.example.com")
            )
            # As a browser does: the page's own `shown` fields with the boxes (a post without them is refused).
            shown = re.findall(r'name="shown" value="([^"]+)"', client.get(url).get_data(as_text=True))
            status = client.post(url, data={**{box: "on" for box in boxes}, "shown": shown}).status_code
            assert status == (200 if shown else 400)  # a person with no address on the link's channel gets no boxes

        @rule(word=st.sampled_from(["STOP", "stop all", "START", "HELP"]))
        def text(self, word):
            form = {"From": self.phone, "To": "+15005550006", "Body": word}
            signature = RequestValidator("test-twilio-token").compute_signature("https://prefs.example.com/webhooks/sms", form)
            assert client.post("/webhooks/sms", data=form, headers={"X-Twilio-Signature": signature}).status_code == 200

        @rule(active=st.booleans())
        def account(self, active):
            action = "reactivate" if active else "deactivate"
            assert api.post(f"/recipients/{self.id}/{action}").status_code == 200
            self.status = "active" if active else "deactivated"

        @invariant()
        def mandatory_topics_get_through(self):
            if not hasattr(self, "id"):
                return
            matrix = api.get(f"/recipients/{self.id}/preferences").get_json()
            having = {channel for channel, state in matrix["channels"].items() if state["address"]}
            results = api.post(
                "/check/batch",
                {"checks": [{"recipient_id": self.id, "topic": t, "channel": c} for t in mandatory for c in CHANNELS]},
            ).get_json()["results"]
            for result in results:
                if result["reason"] == "topic_not_on_channel":
                    continue
                if self.status != "active":
                    assert result["reason"] == "deactivated"
                elif result["channel"] not in having:
                    assert result["reason"] == "no_address"
                elif result["channel"] == "sms" and result["reason"] == "sms_stop":
                    assert matrix["channels"]["sms"]["sms_stop"] is True
                else:
                    assert (result["allowed"], result["reason"]) == (True, "mandatory"), result

    run_state_machine_as_test(
        Operations,
        settings=settings(
            max_examples=EXAMPLES, stateful_step_count=15, deadline=None, suppress_health_check=list(HealthCheck), database=None
        ),
    )


# --- R5, the number's SMS stop (issue 10, acceptance 2) -------------------------------------------------
def _text(client, sender: str, word: str) -> None:
    form = {"From": sender, "To": "+15005550006", "Body": word}
    signature = RequestValidator("test-twilio-token").compute_signature("https://prefs.example.com/webhooks/sms", form)
    assert client.post("/webhooks/sms", data=form, headers={"X-Twilio-Signature": signature}).status_code == 200


@pytest.mark.slow  # long random sequences
def test_r5_mandatory_texts_never_reach_a_number_that_texted_stop_until_start(api, client, runner, newsletter, tmp_path):
    """Phone changes (PUT and import), STOP and START from known and unknown numbers, erasure and re-use of
    a number, and suppression lifts by every API means: a number that texted STOP gets no text of any kind,
    whoever holds it, until START comes from it; every other number of an active person gets mandatory texts."""
    counter = iter(range(10**6))
    files = iter(range(10**6))
    runs = iter(range(10**6))
    slot = st.sampled_from([0, 1, 2, 3, None])  # four numbers per run, so they change hands

    class Numbers(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            base = 5000 + 4 * next(runs)  # each run its own numbers: the database outlives a run
            self.numbers = [f"+1415555{base + n:04d}" for n in range(4)]
            self.people: dict[str, str | None] = {}  # live recipient id -> its number
            self.stopped: set[str] = set()  # the model: numbers whose last keyword was STOP

        def holder(self, number: str) -> str | None:
            return next((person for person, held in self.people.items() if held == number), None)

        @rule(index=slot)
        def create(self, index):
            number = None if index is None else self.numbers[index]
            person = f"n5-{next(counter)}"
            response = api.put(f"/recipients/{person}", {"phone": number, "email": f"{person}@example.com"})
            if number is not None and self.holder(number) is not None:
                assert response.status_code == 409
                return
            assert response.status_code == 201, response.get_json()
            self.people[person] = number

        @rule(data=st.data(), index=slot, by_import=st.booleans())
        def change_number(self, data, index, by_import):
            number = None if index is None else self.numbers[index]
            if not self.people:
                return
            person = data.draw(st.sampled_from(sorted(self.people)))
            taken = number is not None and self.holder(number) not in (None, person)
            if by_import:
                if number is None:
                    return  # an import never clears a field
                path = tmp_path / f"move-{next(files)}.csv"
                path.write_text(f"id,phone\n{person},{number}\n")
                result = runner.invoke(args=["recipients", "import", str(path), "--processes", "1"])
                assert result.exit_code == (1 if taken else 0), result.output
            else:
                response = api.put(f"/recipients/{person}", {"phone": number})
                assert response.status_code == (409 if taken else 200), response.get_json()
            if not taken:
                self.people[person] = number

        @rule(index=st.sampled_from([0, 1, 2, 3]), word=st.sampled_from(["STOP", "stop all", "START", "unstop", "HELP"]))
        def text(self, index, word):
            number = self.numbers[index]
            _text(client, number, word)
            if word.upper().replace(" ", "") in ("STOP", "STOPALL"):
                self.stopped.add(number)
            elif word.upper() in ("START", "UNSTOP"):
                self.stopped.discard(number)

        @rule(data=st.data())
        def erase(self, data):
            if self.people:
                person = data.draw(st.sampled_from(sorted(self.people)))
                assert api.delete(f"/recipients/{person}").status_code == 204
                del self.people[person]

        @rule(
            data=st.data(),
            change=st.sampled_from([{"channel": "sms"}, {"channel": "phone"}, {"topic": "newsletter", "channel": "sms"}, {}]),
        )
        def opt_in_with_evidence(self, data, change):
            if self.people:
                person = data.draw(st.sampled_from(sorted(self.people)))
                evidence = {"collected_at": "2026-11-01T10:00:00Z", "source": "call"}
                response = api.patch(
                    f"/recipients/{person}/preferences", {"changes": [{**change, "subscribed": True}], "evidence": evidence}
                )
                assert response.status_code in (200, 422), response.get_json()

        @invariant()
        def stops_stay_with_numbers(self):
            checks = [
                {"recipient_id": person, "topic": topic, "channel": "sms"}
                for person in self.people
                for topic in ("billing", "newsletter")
            ]
            if not checks:
                return
            for item, result in zip(checks, api.post("/check/batch", {"checks": checks}).get_json()["results"], strict=True):
                number = self.people[item["recipient_id"]]
                if number is None:
                    assert result["reason"] == "no_address"
                elif number in self.stopped:
                    assert result["reason"] == "sms_stop", (item, number)
                elif item["topic"] == "billing":
                    assert result["reason"] == "mandatory", (item, number, result)
                else:
                    assert not (result["allowed"] and result["reason"] == "mandatory")

    run_state_machine_as_test(
        Numbers,
        settings=settings(
            max_examples=EXAMPLES, stateful_step_count=15, deadline=None, suppress_health_check=list(HealthCheck), database=None
        ),
    )


# --- an import row is the same as PUT + PATCH (issue 10, finding 1) -------------------------------------
def _flat_changes(events: list[dict]) -> dict[str, tuple]:
    """field -> (first before, last after) over events, oldest first, in the import event's vocabulary."""
    flat: dict[str, list] = {}
    for event in events:
        if event["kind"] in ("recipient_created", "contact_changed", "imported"):
            before, after = event["before"] or {}, event["after"] or {}
            pairs = {name: (before.get(name), after[name]) for name in after if name != "status"}
        else:  # a topic choice, or anything else a write left (an SMS stop, a lifted suppression)
            pairs = {f"{event['topic'] or event['kind']}:{event['channel']}": (event["before"], event["after"])}
        for name, (before, after) in pairs.items():
            flat.setdefault(name, [before, after])[1] = after
    return {name: tuple(values) for name, values in flat.items() if values[0] != values[1]}


@pytest.mark.slow  # long random sequences
def test_an_import_row_gives_the_same_state_and_changes_as_put_and_patch(api, client, runner, newsletter, tmp_path):
    from conftest import ApiClient

    counter = iter(range(10**6))
    choices = st.sampled_from(["", "yes", "no"])

    @given(
        existing=st.booleans(),
        first=st.fixed_dictionaries(
            {"email": st.booleans(), "phone": st.booleans(), "newsletter:email": choices, "newsletter:sms": choices}
        ),
        row=st.fixed_dictionaries(
            {
                "email": st.sampled_from(["", "e1", "e2"]),
                "phone": st.sampled_from(["", "p1", "p2"]),
                "locale": st.sampled_from(["", "en-GB", "fr"]),
                "newsletter:email": choices,
                "newsletter:sms": choices,
            }
        ),  # fmt: skip
        stops=st.sets(st.sampled_from(["p1", "p2"])),
        later_stops=st.sets(st.sampled_from(["p1", "p2"])),
    )
    @settings(max_examples=EXAMPLES * 4, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def same(existing, first, row, stops, later_stops):
        n = next(counter)
        sides = {}
        for side, base in (("a", 0), ("b", 5000)):
            addresses = {"e1": f"one{n}@{side}.example", "e2": f"two{n}@{side}.example",
                         "p1": f"+1415555{base + 2 * n:04d}", "p2": f"+1415555{base + 2 * n + 1:04d}"}  # fmt: skip
            sides[side] = (f"{side}-{n}", addresses)
            for stop in stops:
                _text(client, addresses[stop], "STOP")
            if existing:
                body = {
                    "email": addresses["e1"] if first["email"] else None,
                    "phone": addresses["p1"] if first["phone"] else None,
                }
                assert api.put(f"/recipients/{side}-{n}", body).status_code == 201
                cells = [
                    {"topic": "newsletter", "channel": cell[-5:].strip(":"), "subscribed": value == "yes"}
                    for cell, value in first.items()
                    if ":" in cell and value
                ]
                if cells:
                    api.patch(f"/recipients/{side}-{n}/preferences", {"changes": cells})
            for stop in later_stops:  # texted while the recipient may hold the number
                _text(client, addresses[stop], "STOP")
        marks = {}
        for side, (person, _addresses) in sides.items():
            marks[side] = api.get(f"/recipients/{person}/events?limit=1000").get_json()["events"][0]["id"] if existing else 0
        # Side a: one CSV row.
        person, addresses = sides["a"]
        cells = {name: addresses.get(value, value) for name, value in row.items()}
        path = tmp_path / f"row-{n}.csv"
        path.write_text("id," + ",".join(cells) + "\n" + person + "," + ",".join(cells.values()) + "\n")
        imported = runner.invoke(args=["recipients", "import", str(path), "--processes", "1"])
        # Side b: PUT the contact cells given, then PATCH the choice cells given.
        person_b, addresses_b = sides["b"]
        given_fields = {name: addresses_b.get(value, value) for name, value in row.items() if value and ":" not in name}
        api_b = ApiClient(client, api.key)
        put = api_b.put(f"/recipients/{person_b}", given_fields)
        changes = [
            {"topic": "newsletter", "channel": name.split(":")[1], "subscribed": value == "yes"}
            for name, value in row.items()
            if ":" in name and value
        ]
        patch = (
            api_b.patch(f"/recipients/{person_b}/preferences", {"changes": changes})
            if changes and put.status_code in (200, 201)
            else None
        )
        refused_b = put.status_code >= 400 or (patch is not None and patch.status_code >= 400)
        assert (imported.exit_code == 1) == refused_b, (imported.output, put.get_json(), patch and patch.get_json())
        if refused_b:
            return
        # The same state: contact data (spelled per side), every decision, and the same changes recorded.
        unmap = {value: key for side in sides.values() for key, value in side[1].items()}
        states = []
        for side, (person, _) in sides.items():
            recipient = api.get(f"/recipients/{person}").get_json()
            contact = {name: unmap.get(recipient[name], recipient[name]) for name in ("email", "phone", "locale")}
            matrix = {(t["key"], c): v["reason"] for t in recipient["preferences"]["topics"] for c, v in t["channels"].items()}
            events = [
                e for e in api.get(f"/recipients/{person}/events?limit=1000").get_json()["events"] if e["id"] > marks[side]
            ][::-1]
            flat = {name: tuple(unmap.get(v, v) for v in pair) for name, pair in _flat_changes(events).items()}
            states.append((contact, matrix, flat))
        assert states[0] == states[1]

    same()
