"""CLI imports: recipients from CSV and addresses into the suppression list (issue 5, acceptance 5)."""

from __future__ import annotations

import csv
import time

import pytest
from conftest import requires_postgres
from sqlalchemy import text

from prefs.extensions import db

BAD_LINES = {
    12: {"id": "bad@id"},
    140: {"email": "not-an-email"},
    333: {"phone": "12"},
    604: {"newsletter:email": "maybe"},
    999: {"locale": "not a locale"},
}


def write_csv(path, rows, header=("id", "email", "phone", "locale", "newsletter:email", "newsletter:sms")):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def thousand_rows() -> list[dict]:
    rows = []
    for n in range(1000):  # data rows are lines 2..1001
        row = {"id": f"imp-{n}", "email": f"Person{n}@Example.com", "phone": f"+1415555{n:04d}" if n % 2 else "", "locale": "en-US",
               "newsletter:email": ["yes", "no", ""][n % 3], "newsletter:sms": "yes" if n % 5 == 0 else ""}  # fmt: skip
        row.update(BAD_LINES.get(n + 2, {}))
        rows.append(row)
    return rows


@pytest.mark.parametrize("processes", [1, pytest.param(2, marks=pytest.mark.slow)])  # 2: worker processes
def test_import_reports_exactly_the_bad_lines_and_a_rerun_changes_nothing(api, runner, newsletter, tmp_path, processes):
    path = write_csv(tmp_path / "people.csv", thousand_rows())
    result = runner.invoke(args=["recipients", "import", path, "--processes", str(processes)])
    assert result.exit_code == 1
    reported = sorted(
        int(line.split(":")[0].removeprefix("line ")) for line in result.output.splitlines() if line.startswith("line ")
    )
    assert reported == sorted(BAD_LINES)
    assert "995 created, 0 updated, 0 unchanged, 5 bad rows" in result.output

    person = api.get("/recipients/imp-7").get_json()
    assert (person["email"], person["phone"], person["locale"]) == ("person7@example.com", "+14155550007", "en-US")
    assert api.check("newsletter", "email", recipient_id="imp-7")["reason"] == "unsubscribed"  # 7 % 3 == 1: "no"
    assert api.check("newsletter", "email", recipient_id="imp-8")["reason"] == "default"  # empty cell
    assert api.check("newsletter", "sms", recipient_id="imp-5")["reason"] == "subscribed"
    assert api.get("/recipients/imp-10").status_code == 404  # line 12 was bad
    events = api.get("/recipients/imp-7/events").get_json()["events"]
    assert [(e["kind"], e["actor"], e["actor_id"]) for e in events] == [("imported", "import", "people.csv")]
    assert events[0]["after"]["newsletter:email"] is False

    feed_before = api.get("/events?limit=1000&after=0").get_json()
    total_before = _count_events(api)
    again = runner.invoke(args=["recipients", "import", path, "--processes", str(processes)])
    assert "0 created, 0 updated, 995 unchanged, 5 bad rows" in again.output
    assert _count_events(api) == total_before
    assert feed_before["events"][0]["id"] == api.get("/events?limit=1&after=0").get_json()["events"][0]["id"]


def _count_events(api) -> int:
    count, after = 0, 0
    while True:
        page = api.get(f"/events?limit=1000&after={after}").get_json()
        if page["next"] is None:
            return count
        count += len(page["events"])
        after = page["next"]


def test_import_updates_only_what_changed_and_never_clears(api, runner, newsletter, person, tmp_path):
    path = write_csv(
        tmp_path / "update.csv",
        [{"id": "cust-1", "email": "", "phone": "+14155550999", "locale": ""}],
        header=("id", "email", "phone", "locale"),
    )
    assert runner.invoke(args=["recipients", "import", path, "--processes", "1"]).exit_code == 0
    body = api.get("/recipients/cust-1").get_json()
    assert (body["email"], body["phone"]) == ("ann@example.com", "+14155550999")
    event = api.get("/recipients/cust-1/events").get_json()["events"][0]
    assert (event["kind"], event["before"], event["after"]) == ("imported", {"phone": "+14155550123"}, {"phone": "+14155550999"})


def test_import_refuses_clashes_erased_ids_and_mandatory_opt_outs(api, runner, newsletter, person, tmp_path):
    api.put("/recipients/gone", {"email": "gone@example.com"})
    api.delete("/recipients/gone")
    rows = [
        {"id": "dup-1", "email": "ann@example.com"},  # line 2: someone else's
        {"id": "dup-2", "email": "same@example.com"},  # line 3
        {"id": "dup-3", "email": "SAME@example.com"},  # line 4: taken by line 3
        {"id": "gone", "email": "back@example.com"},  # line 5: erased
        {"id": "ok-1", "email": "ok@example.com", "billing:email": "no"},  # line 6: mandatory
        {"id": "ok-2", "email": "ok2@example.com", "billing:email": "yes"},  # line 7: fine, nothing stored
    ]
    path = write_csv(tmp_path / "clash.csv", rows, header=("id", "email", "billing:email"))
    result = runner.invoke(args=["recipients", "import", path, "--processes", "1"])
    lines = [line for line in result.output.splitlines() if line.startswith("line ")]
    assert [line.split(":")[0] for line in lines] == ["line 2", "line 4", "line 5", "line 6"]
    assert "2 created" in result.output
    assert api.get("/recipients/gone").status_code == 404


def test_a_bad_header_imports_nothing(api, runner, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [{"id": "x", "colour": "red"}], header=("id", "colour"))
    result = runner.invoke(args=["recipients", "import", path])
    assert result.exit_code != 0 and "colour" in result.output
    assert api.get("/recipients/x").status_code == 404


def test_suppressions_import(api, runner, newsletter, tmp_path):
    path = tmp_path / "suppress.txt"
    path.write_text("# from the old ESP\nOld.Customer@Example.com\n\n(415) 555-0188\nnot an address\n")
    result = runner.invoke(args=["suppressions", "import", str(path)])
    assert result.exit_code == 1 and "line 5:" in result.output and "2 addresses suppressed" in result.output
    assert api.check("newsletter", "email", email="old.customer@example.com")["reason"] == "suppressed"
    assert api.check("newsletter", "sms", phone="+14155550188")["reason"] == "suppressed"
    api.put("/recipients/old", {"email": "old.customer@example.com"})
    assert api.check("newsletter", "email", recipient_id="old")["reason"] == "suppressed"
    again = runner.invoke(args=["suppressions", "import", str(path)]).output
    assert again.count("2 addresses") == 1 and "(0 new to the list)" in again  # idempotent


def test_a_suppression_import_says_who_imported_which_file(app, runner, tmp_path):
    """Found by this round's review: it changed what known people get and left no audit event."""
    from sqlalchemy import select

    from prefs.models import AdminEvent

    path = tmp_path / "old-esp.txt"
    path.write_text("ann@example.com\nbob@example.com\n")
    result = runner.invoke(args=["suppressions", "import", str(path), "--source", "old_esp"])
    assert "2 addresses suppressed (2 new to the list)" in result.output
    with app.app_context():
        [event] = db.session.scalars(select(AdminEvent).where(AdminEvent.action == "suppressions.imported")).all()
        assert (event.actor, event.target, event.details) == ("cli", "old-esp.txt", {"source": "old_esp", "added": 2})
        assert event.actor_id  # the operating-system account that ran it


def test_a_file_that_is_not_utf8_gets_a_clear_error(runner, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,email\nr1,jos\xe9@example.com\n".encode("latin-1"))
    result = runner.invoke(args=["recipients", "import", str(path), "--processes", "1"])
    assert result.exit_code != 0 and "not UTF-8" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_batch_sees_what_the_batch_before_it_wrote(api, runner, newsletter, tmp_path, monkeypatch):
    """On PostgreSQL a batch is written while the next is read (services/imports._PostgresWriter): a row of the
    next batch that depends on the one before (the same id again, an address the one before gave up) reads
    what that one committed, as if the batches ran one after the other."""
    from prefs.services import imports

    monkeypatch.setattr(imports, "BATCH", 2)
    slowly = imports._apply_postgres  # a slow write: the next batch is read while it is still uncommitted

    def apply_slowly(*args):
        time.sleep(0.3)
        slowly(*args)

    monkeypatch.setattr(imports, "_apply_postgres", apply_slowly)
    assert api.put("/recipients/ann", {"email": "x@example.com"}).status_code == 201
    rows = [
        {"id": "ann", "email": "y@example.com", "locale": ""},  # line 2, batch 1: ann gives x up
        {"id": "cat", "email": "cat@example.com", "locale": ""},  # line 3, batch 1: new
        {"id": "bob", "email": "x@example.com", "locale": ""},  # line 4, batch 2: x is free by now
        {"id": "cat", "email": "", "locale": "fr-FR"},  # line 5, batch 2: cat again, stored by batch 1
        {"id": "dan", "email": "dan@example.com", "locale": ""},  # line 6, batch 3: no wait needed
    ]
    path = write_csv(tmp_path / "chain.csv", rows, header=("id", "email", "locale"))
    result = runner.invoke(args=["recipients", "import", path, "--processes", "1"])
    assert result.exit_code == 0, result.output
    assert "3 created, 2 updated, 0 unchanged, 0 bad rows" in result.output
    assert api.get("/recipients/bob").get_json()["email"] == "x@example.com"
    assert api.get("/recipients/ann").get_json()["email"] == "y@example.com"
    assert api.get("/recipients/cat").get_json()["locale"] == "fr-FR"
    events = api.get("/recipients/cat/events").get_json()["events"]
    assert [(e["before"], e["after"]) for e in events][0] == ({"locale": None}, {"locale": "fr-FR"})


@pytest.fixture
def meanwhile(monkeypatch):
    """`meanwhile(change)`: on PostgreSQL, `change` is made (and committed) by another writer after each batch
    was decided and before it is written, the window the overlap of reading and writing opens."""
    from prefs.services import imports

    def between_deciding_and_writing(change):
        write_batch = imports._write_batch

        def with_a_change_first(*args):
            change()
            return write_batch(*args)

        monkeypatch.setattr(imports, "_write_batch", with_a_change_first)

    return between_deciding_and_writing


@requires_postgres
def test_an_erasure_made_while_a_batch_waits_to_be_written_is_not_undone(api, app, runner, newsletter, tmp_path, meanwhile):
    """Found by this round's review: the erased person's new address and locale were written onto the tombstone."""
    assert api.put("/recipients/ann", {"email": "ann@example.com"}).status_code == 201
    meanwhile(lambda: api.delete("/recipients/ann"))
    rows = [
        {"id": "ann", "email": "ann.new@example.com", "locale": "fr-FR"},
        {"id": "bob", "email": "bob@example.com", "locale": ""},
    ]
    result = runner.invoke(
        args=["recipients", "import", write_csv(tmp_path / "f.csv", rows, header=("id", "email", "locale")), "--processes", "1"]
    )
    assert "1 created, 0 updated, 0 unchanged, 1 bad rows" in result.output, result.output
    assert "line 2: id: this recipient was erased" in result.output
    with app.app_context():
        stored = db.session.execute(text("SELECT status, email, locale FROM recipients WHERE id = 'ann'")).one()
    assert tuple(stored) == ("erased", None, None)
    assert [event["kind"] for event in api.get("/recipients/bob/events").get_json()["events"]] == ["imported"]


@requires_postgres
def test_an_address_taken_while_a_batch_waits_to_be_written_makes_a_bad_row(api, runner, newsletter, tmp_path, meanwhile):
    """Found by this round's review: the unique key refused the batch and the whole import failed."""
    meanwhile(lambda: api.put("/recipients/bob", {"email": "cat@example.com"}))
    rows = [{"id": "cat", "email": "cat@example.com"}, {"id": "dan", "email": "dan@example.com"}]
    result = runner.invoke(
        args=["recipients", "import", write_csv(tmp_path / "g.csv", rows, header=("id", "email")), "--processes", "1"]
    )
    assert "1 created, 0 updated, 0 unchanged, 1 bad rows" in result.output, result.output
    assert "line 2: email: already belongs to another recipient" in result.output
    assert api.get("/recipients/dan").status_code == 200 and api.get("/recipients/cat").status_code == 404


@requires_postgres
def test_an_import_and_a_put_taking_the_same_address_do_not_deadlock(app, api, runner, tmp_path, monkeypatch):
    """Found by this round's review: the import holds a new address's key while it waits for the event lock; a
    PUT giving that address to someone took the event lock first and then waited on the key: a deadlock, the
    PUT's answer a 500. A writer now takes its addresses' keys before the event lock."""
    import threading

    from prefs.services import imports

    assert api.put("/recipients/bob", {"email": "bob@example.com"}).status_code == 201
    answers, puts, event_lock = [], [], imports.serialise_event_writes

    def a_put_meanwhile(sql=None):
        headers = {"Authorization": f"Bearer {api.key}"}
        put = threading.Thread(
            target=lambda: answers.append(
                app.test_client().put("/api/v1/recipients/bob", json={"email": "cat@example.com"}, headers=headers)
            )
        )
        puts.append(put)
        put.start()
        put.join(timeout=0.5)  # by now it waits for the import's commit, on cat@'s key
        event_lock(sql)

    monkeypatch.setattr(imports, "serialise_event_writes", a_put_meanwhile)
    rows = [{"id": "cat", "email": "cat@example.com"}]
    result = runner.invoke(
        args=["recipients", "import", write_csv(tmp_path / "d.csv", rows, header=("id", "email")), "--processes", "1"]
    )
    puts[0].join(timeout=30)
    assert result.exit_code == 0 and "1 created" in result.output, result.output
    assert [answer.status_code for answer in answers] == [409]
    assert answers[0].get_json()["error"]["code"] == "address_in_use"


@requires_postgres
def test_two_imports_of_the_same_new_people_at_once_both_finish(app, tmp_path):
    """Found by this round's review: inserting the same new people in opposite orders, they deadlocked on the
    unique keys and one import failed whole. One import writes a batch at a time."""
    import threading

    rows = [{"id": f"n-{n}", "email": f"n{n}@example.com"} for n in range(1000)]
    paths = [
        write_csv(tmp_path / "up.csv", rows, header=("id", "email")),
        write_csv(tmp_path / "down.csv", rows[::-1], header=("id", "email")),
    ]
    results = {}

    def run(path):
        results[path] = app.test_cli_runner().invoke(args=["recipients", "import", path, "--processes", "1"])

    threads = [threading.Thread(target=run, args=(path,)) for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(result.exit_code == 0 for result in results.values()), [(r.exit_code, repr(r.exception)) for r in results.values()]
    # (Two CLI runners at once share one stdout, so their reports are read from the database instead.)
    with app.app_context():
        people = db.session.execute(text("SELECT count(*) FROM recipients WHERE id LIKE 'n-%'")).scalar_one()
        imported = db.session.execute(
            text("SELECT count(*), count(DISTINCT recipient_id) FROM consent_events WHERE kind = 'imported'")
        ).one()
    assert people == 1000 and tuple(imported) == (1000, 1000)  # each made once, by one of the two


# --- found in review (session 9): the import against the API row by row --------------------------------------
EVIDENCE = {"collected_at": "2024-01-01T00:00:00Z", "source": "signup form"}


def run_import(runner, tmp_path, rows, header, name="f.csv"):
    return runner.invoke(args=["recipients", "import", write_csv(tmp_path / name, rows, header=header), "--processes", "1"])


def stored_choice(app, recipient_id, topic, channel) -> tuple:
    with app.app_context():
        row = db.session.execute(
            text("SELECT c.subscribed, c.with_evidence FROM choices c JOIN recipients r ON r.pk = c.recipient_pk"
                 " WHERE r.id = :id AND c.topic = :topic AND c.channel = :channel"),
            {"id": recipient_id, "topic": topic, "channel": channel},
        ).one()  # fmt: skip
    return bool(row[0]), bool(row[1])


@pytest.mark.parametrize("batch", [None, 1])  # one batch for the file, and a batch per row: the same outcome
def test_an_address_given_up_is_free_for_the_rows_after_it_wherever_a_batch_ends(api, runner, tmp_path, monkeypatch, batch):
    """PUT ann y@ then PUT bob x@ succeed one by one; the import refused bob when both rows were in one batch
    (ann's old address stayed hers for the batch)."""
    from prefs.services import imports

    if batch:
        monkeypatch.setattr(imports, "BATCH", batch)
    assert api.put("/recipients/ann", {"email": "x@example.com"}).status_code == 201
    result = run_import(
        runner, tmp_path, [{"id": "ann", "email": "y@example.com"}, {"id": "bob", "email": "x@example.com"}], ("id", "email")
    )
    assert "1 created, 1 updated, 0 unchanged, 0 bad rows" in result.output, result.output
    assert api.get("/recipients/ann").get_json()["email"] == "y@example.com"
    assert api.get("/recipients/bob").get_json()["email"] == "x@example.com"


@pytest.mark.parametrize("batch", [None, 1])
def test_an_address_a_row_of_the_file_gave_up_is_not_claimed_for_the_rest_of_it(api, runner, tmp_path, monkeypatch, batch):
    """PUT dan w@, PUT dan z@, PUT eve w@ succeed one by one; the import kept w@ claimed by dan for the rest of
    the file and refused eve."""
    from prefs.services import imports

    if batch:
        monkeypatch.setattr(imports, "BATCH", batch)
    rows = [
        {"id": "dan", "email": "w@example.com"},
        {"id": "dan", "email": "z@example.com"},
        {"id": "eve", "email": "w@example.com"},
    ]
    result = run_import(runner, tmp_path, rows, ("id", "email"))
    assert "2 created, 1 updated, 0 unchanged, 0 bad rows" in result.output, result.output
    assert api.get("/recipients/eve").get_json()["email"] == "w@example.com"


@pytest.mark.parametrize("batch", [None, 1])
def test_the_same_person_twice_in_a_file_is_written_twice_wherever_a_batch_ends(api, runner, tmp_path, monkeypatch, batch):
    """As PUT twice: the second row sees the first. It was refused when both rows were in one batch."""
    from prefs.services import imports

    if batch:
        monkeypatch.setattr(imports, "BATCH", batch)
    rows = [{"id": "cat", "email": "c@example.com", "locale": ""}, {"id": "cat", "email": "", "locale": "fr-FR"}]
    result = run_import(runner, tmp_path, rows, ("id", "email", "locale"))
    assert "1 created, 1 updated, 0 unchanged, 0 bad rows" in result.output, result.output
    person = api.get("/recipients/cat").get_json()
    assert (person["email"], person["locale"]) == ("c@example.com", "fr-FR")
    events = api.get("/recipients/cat/events").get_json()["events"]
    assert [event["kind"] for event in events] == ["imported", "imported"]


def test_an_imported_choice_change_reaches_preference_webhooks_as_a_patch_does(api, app, runner, newsletter, person, tmp_path):
    """An endpoint subscribed to preference.updated never heard of opt-outs that came by import: their message
    was recipient.updated. A replay gives the same type (services/outbox.py, webhook_type)."""

    def outbox_types() -> list[str]:
        with app.app_context():
            return list(db.session.execute(text("SELECT type FROM outbox WHERE ordering_key = 'cust-1' ORDER BY id")).scalars())

    before = len(outbox_types())
    off = {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": False}]}
    assert api.patch("/recipients/cust-1/preferences", off).status_code == 200
    via_api = outbox_types()[before:]
    on = {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": True}]}
    assert api.patch("/recipients/cust-1/preferences", on).status_code == 200
    before = len(outbox_types())
    rows = [{"id": "cust-1", "newsletter:email": "no"}, {"id": "new-1", "newsletter:email": "yes"}]
    result = run_import(runner, tmp_path, rows, ("id", "newsletter:email"))
    assert "1 created, 1 updated" in result.output, result.output
    assert outbox_types()[before:] == via_api == ["preference.updated"]
    contact_only = run_import(runner, tmp_path, [{"id": "cust-1", "email": "ann.new@example.com"}], ("id", "email"), "g.csv")
    assert "1 updated" in contact_only.output, contact_only.output
    assert outbox_types()[-1] == "recipient.updated"


def test_an_imported_opt_out_keeps_the_evidence_flag_as_a_patch_does(api, app, runner, newsletter, person, tmp_path):
    on = {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": True}], "evidence": EVIDENCE}
    off = {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": False}]}
    assert api.patch("/recipients/cust-1/preferences", on).status_code == 200
    assert api.patch("/recipients/cust-1/preferences", off).status_code == 200
    via_api = stored_choice(app, "cust-1", "newsletter", "email")
    assert api.patch("/recipients/cust-1/preferences", on).status_code == 200
    result = run_import(runner, tmp_path, [{"id": "cust-1", "newsletter:email": "no"}], ("id", "newsletter:email"))
    assert "1 updated" in result.output, result.output
    assert stored_choice(app, "cust-1", "newsletter", "email") == via_api == (False, True)


@requires_postgres
def test_an_evidenced_opt_in_made_while_a_batch_waits_is_not_stripped_of_its_evidence(
    api, app, runner, newsletter, person, tmp_path, meanwhile
):
    """Either order of the PATCH and the import stores (True, True) with no imported event: the import's "yes"
    finds the opt-in made. The batch decided from the choices read before the PATCH overwrote its evidence."""
    off = {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": False}]}
    on = {"changes": [{"topic": "newsletter", "channel": "email", "subscribed": True}], "evidence": EVIDENCE}
    assert api.patch("/recipients/cust-1/preferences", off).status_code == 200
    meanwhile(lambda: api.patch("/recipients/cust-1/preferences", on))
    result = run_import(runner, tmp_path, [{"id": "cust-1", "newsletter:email": "yes"}], ("id", "newsletter:email"))
    assert "0 updated, 1 unchanged" in result.output, result.output
    assert stored_choice(app, "cust-1", "newsletter", "email") == (True, True)
    kinds = [event["kind"] for event in api.get("/recipients/cust-1/events").get_json()["events"]]
    assert "imported" not in kinds, kinds


@requires_postgres
def test_an_id_made_and_erased_while_its_batch_is_written_stays_erased(api, app, runner, newsletter, tmp_path, monkeypatch):
    """Found in review (session 9): an id new when the batch was decided has no row to lock; made and erased by
    others between the batch's locks and its upsert, it got the import's address and locale on its tombstone."""
    from prefs.services import imports

    apply = imports._apply_postgres
    done: list[bool] = []

    def someone_else_first(*args):
        if not done:
            done.append(True)
            assert api.put("/recipients/dora", {"email": "dora@example.com"}).status_code == 201
            assert api.delete("/recipients/dora").status_code == 204
        return apply(*args)

    monkeypatch.setattr(imports, "_apply_postgres", someone_else_first)
    rows = [
        {"id": "dora", "email": "dora.new@example.com", "locale": "fr-FR"},
        {"id": "eli", "email": "eli@example.com", "locale": ""},
    ]
    result = run_import(runner, tmp_path, rows, ("id", "email", "locale"))
    assert "1 created, 0 updated, 0 unchanged, 1 bad rows" in result.output, result.output
    assert "line 2: id: this recipient was erased" in result.output
    with app.app_context():
        stored = db.session.execute(text("SELECT status, email, locale FROM recipients WHERE id = 'dora'")).one()
    assert tuple(stored) == ("erased", None, None)
