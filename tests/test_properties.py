"""Property tests. R4: any change to a link's token is refused and changes nothing. R5: over random sequences
of operations, a mandatory topic is never denied to an active recipient with an address on the channel,
except `sms_stop` on SMS."""
from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from twilio.request_validator import RequestValidator

EXAMPLES = int(os.environ.get("PREFS_PROPERTY_EXAMPLES", "60"))
URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
CHANNELS = ("email", "sms", "phone", "post")


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
    tokens = {prefix: url.rsplit("/", 1)[-1] for prefix, url in (("u", links["unsubscribe_url"]), ("p", links["preferences_url"]))}
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
def test_r5_mandatory_topics_always_reach_an_active_person(api, app, client, newsletter):
    api.post("/topics", {"key": "offers", "name": "Offers", "channels": ["email", "sms", "post"], "default_subscribed": {"email": True}})
    api.post("/topics", {"key": "security", "name": "Security alerts", "mandatory": True, "channels": ["email", "sms", "phone"]})
    mandatory = ("billing", "service", "security")
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
            change = {"subscribed": subscribed, **({"topic": topic} if topic else {}), **({"channel": channel} if channel else {})}
            response = api.patch(f"/recipients/{self.id}/preferences", {"changes": [change]})
            assert response.status_code in (200, 422), response.get_json()
            if topic in mandatory and not subscribed and not (topic == "security" and channel == "post"):
                assert response.get_json()["error"]["code"] == "mandatory_topic"  # refused, whatever else

        @rule(topic=st.sampled_from(("newsletter", "offers", None)), channel=st.sampled_from(("email", "sms")), undo=st.booleans())
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
            url = api.post("/links", {"recipient_id": self.id}).get_json()["preferences_url"].removeprefix("https://prefs.example.com")
            assert client.post(url, data={box: "on" for box in boxes}).status_code == 200

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
                "/check/batch", {"checks": [{"recipient_id": self.id, "topic": t, "channel": c} for t in mandatory for c in CHANNELS]}
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
        Operations, settings=settings(max_examples=EXAMPLES, stateful_step_count=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    )
