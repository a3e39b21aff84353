"""The coder's review page in headless Chromium against a real server: the worklist, evidence
highlighting, decisions (mouse and keyboard only), persistence across a reload, submission, and
what the browser keeps."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

DIMMED = {"negated", "family"}
CM = "ICD-10-CM"


def _shown(body: dict) -> list[dict]:
    """The suggestions the page shows (negated and family ones are shown dimmed in the note instead)."""
    return [s for s in body["suggestions"] if s["assertion"] not in DIMMED]


def _row(page, code: str):
    return page.locator(f"li.code-row[data-code='{code}']")


def _dx(body: dict) -> list[str]:
    return [d["code"] for d in body["working"]["diagnoses"]]


def _order(page) -> list[str]:
    return page.locator("#dx-list li.code-row").evaluate_all("rows => rows.map(r => r.dataset.code)")


def _with_diagnoses(server, body: dict, n: int = 3) -> dict:
    """The encounter with at least `n` diagnoses in its coding: codes the note supports are added when the
    small test index proposes fewer (added codes are confirmed; the proposed ones stay to be confirmed)."""
    for code in ("E11.9", "I10", "I50.9", "R50.9"):
        if len(body["working"]["diagnoses"]) >= n:
            break
        if code not in _dx(body):
            body = server.decide(body["id"], action="add", code=code, system=CM)
    return body


def _open(page, server, body: dict) -> None:
    server.sign_in(page)
    page.goto(f"{server.url}/ui/#/encounters/{body['id']}")
    expect(page.locator("#encounter-h")).to_have_text(f"Encounter {body['external_id']}")


def test_review_flow(page, server, shot):
    """Worklist → encounter opens on the proposed coding → confirm, remove, add by search → reload keeps
    them → submit the confirmed codes in sequence → gone from the worklist; export carries the sequence."""
    body = _with_diagnoses(server, server.create_encounter("inpatient", "UI-FLOW-1"), 2)
    dx = _dx(body)
    server.sign_in(page)
    row = page.locator(f"#worklist-rows tr[data-id='{body['id']}']")
    expect(row).to_be_visible()
    expect(row).to_contain_text("67 y, male")
    expect(row).to_contain_text("inpatient")
    shot(page, "01-worklist")

    row.click()
    expect(page.locator("#encounter-h")).to_have_text("Encounter UI-FLOW-1")
    expect(page.locator("#dx-list li.code-row")).to_have_count(len(dx))
    assert _order(page) == dx
    expect(_row(page, dx[0]).locator(".badge.place")).to_have_text("Principal")
    shot(page, "02-encounter")

    page.get_by_role("button", name=f"Confirm {dx[0]}", exact=True).click()
    expect(_row(page, dx[0]).locator(".state")).to_have_text("Confirmed")
    page.get_by_role("button", name=f"Remove {dx[-1]}", exact=True).click()
    dialog = page.get_by_role("dialog", name=re.compile(f"Remove {re.escape(dx[-1])}"))
    dialog.get_by_label("Wrong specificity").check()
    dialog.get_by_role("button", name="Remove").click()
    expect(_row(page, dx[-1])).to_have_count(0)

    page.get_by_label("Search codes").fill("pneumonia")
    option = page.get_by_role("option", name=re.compile(r"^J18\.9\b"))
    expect(option).to_be_visible()
    shot(page, "03-search")
    option.click()
    expect(_row(page, "J18.9").locator(".state")).to_have_text("Added")
    final = page.locator("#final-list")
    expect(final).to_contain_text("J18.9")
    expect(final).to_contain_text(dx[0])
    shot(page, "04-decided")

    page.reload()
    expect(_row(page, dx[0]).locator(".state")).to_have_text("Confirmed")
    expect(_row(page, dx[-1])).to_have_count(0)
    expect(page.locator("#final-list")).to_contain_text("J18.9")
    shot(page, "05-reloaded")

    page.get_by_role("button", name="Submit codes").click()
    confirm = page.get_by_role("dialog", name="Submit these codes?")
    expect(confirm).to_contain_text("J18.9")
    expect(confirm.locator(".final-list li").first).to_contain_text(f"1. {dx[0]}")
    shot(page, "06-submit")
    confirm.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    expect(page.locator(f"#worklist-rows tr[data-id='{body['id']}']")).to_have_count(0)
    after = server.encounter(body["id"])
    assert after["status"] == "submitted"
    assert after["final_codes"][0]["code"] == dx[0] and after["final_codes"][0]["principal"]

    page.goto(f"{server.url}/ui/#/encounters/{body['id']}")
    expect(page.locator("#enc-status")).to_have_text("submitted")
    expect(page.get_by_role("button", name="Submit codes")).to_be_disabled()
    expect(page.get_by_role("button", name=f"Confirm {dx[0]}", exact=True)).to_have_count(0)
    with page.expect_download() as download:
        page.get_by_role("button", name="CSV").click()
    assert download.value.suggested_filename == "encounter-UI-FLOW-1.csv"
    exported = Path(download.value.path()).read_text()
    assert "sequence,principal" in exported.splitlines()[0] and "J18.9" in exported and dx[-1] not in exported


def test_confirm_in_one_key_choose_principal_reorder_by_keyboard_and_poa(page, server, shot):
    """a confirms and moves on; p makes the current diagnosis principal (the working DRG follows, as its row
    said it would); Shift+J / Shift+K move a code; o and the POA list set the indicator."""
    body = _with_diagnoses(server, server.create_encounter("inpatient", "UI-ARRANGE-1"))
    dx = _dx(body)
    _open(page, server, body)
    page.keyboard.press("a")
    expect(_row(page, dx[0]).locator(".state")).to_have_text("Confirmed")
    expect(_row(page, dx[1])).to_be_focused()

    page.keyboard.press("j")
    expect(_row(page, dx[2])).to_be_focused()
    promised = server.encounter(body["id"])["working"]["diagnoses"][2]["if_principal"]
    page.keyboard.press("p")
    expect(_row(page, dx[2]).locator(".badge.place")).to_have_text("Principal")
    assert _order(page) == [dx[2], dx[0], dx[1], *dx[3:]]
    now = server.encounter(body["id"])
    assert now["drg"]["drg"] == promised["drg_after"]
    expect(page.locator("#drg .drg-now")).to_contain_text(f"MS-DRG {now['drg']['drg']}")
    shot(page, "arrange-principal")

    expect(_row(page, dx[2])).to_be_focused()
    page.keyboard.press("Shift+J")
    expect(page.locator("#dx-list li.code-row").nth(1)).to_have_attribute("data-code", dx[2])
    page.keyboard.press("Shift+K")
    expect(page.locator("#dx-list li.code-row").first).to_have_attribute("data-code", dx[2])

    page.keyboard.press("j")
    expect(_row(page, dx[0])).to_be_focused()
    before = _row(page, dx[0]).locator("select[data-action=poa]").input_value()
    page.keyboard.press("o")
    expect(_row(page, dx[0]).locator("select[data-action=poa]")).not_to_have_value(before)
    poa = _row(page, dx[1]).locator("select[data-action=poa]")
    chosen = "N" if poa.input_value() != "N" else "Y"  # a different value: the same one is not a decision
    poa.select_option(chosen)
    expect(poa).to_have_value(chosen)
    stored = server.encounter(body["id"])
    assert [d["action"] for d in stored["decisions"] if d["coder"] == "Jo Coder"] == [
        "accept", "principal", "sequence", "sequence", "poa", "poa"]
    assert next(d for d in stored["working"]["diagnoses"] if d["code"] == dx[1])["poa"] == chosen
    shot(page, "arrange-poa")


def test_reorder_with_the_mouse(page, server, shot):
    """Drag a diagnosis onto the first row: it becomes the principal."""
    body = _with_diagnoses(server, server.create_encounter("inpatient", "UI-DRAG-1"))
    dx = _dx(body)
    _open(page, server, body)
    _row(page, dx[-1]).locator(".seq").drag_to(_row(page, dx[0]).locator(".seq"))  # by the row's number
    expect(page.locator("#dx-list li.code-row").first).to_have_attribute("data-code", dx[-1])
    page.get_by_role("button", name=f"Move down {dx[-1]}", exact=True).click()
    expect(page.locator("#dx-list li.code-row").nth(1)).to_have_attribute("data-code", dx[-1])
    stored = server.encounter(body["id"])
    assert [(d["action"], d["position"]) for d in stored["decisions"] if d["coder"] == "Jo Coder"] == [
        ("sequence", 1), ("sequence", 2)]
    shot(page, "drag")


def test_alternatives_grouped_and_collapsed(page, server, shot):
    """Candidates outside the coding are grouped by concept, collapsed; x opens the current code's group."""
    body = server.create_encounter("inpatient", "UI-ALT-1")
    groups = body["working"]["alternatives"]
    assert groups, "the note must leave some candidates out of the coding"
    _open(page, server, body)
    details = page.locator("#alternatives details.alt-group")
    expect(details).to_have_count(len(groups))
    assert details.evaluate_all("ds => ds.filter(d => d.open).length") == 0
    first = groups[0]
    group = page.locator(f"#alternatives details[data-concept='{first['system']}:{first['concept']}']")
    expect(group.locator("li.alternative").first).to_be_hidden()
    group.locator("summary").click()
    expect(group.locator("li.alternative")).to_have_count(len(first["alternatives"]))
    expect(group.locator("li.alternative").first).to_be_visible()
    shot(page, "alternatives")
    competing = next((g for g in groups if g["coded"]), None)
    if competing:
        _row(page, competing["coded"][0]).locator("button.code").click()
        _row(page, competing["coded"][0]).focus()
        target = page.locator(f"#alternatives details[data-concept='{competing['system']}:{competing['concept']}']")
        # x toggles: the group may be the one opened above, so start it closed
        target.evaluate("d => { d.open = false; }")
        page.keyboard.press("x")
        expect(target).to_have_attribute("open", "")
        _row(page, competing["coded"][0]).focus()
        page.keyboard.press("x")
        expect(target).not_to_have_attribute("open", "")


def test_no_drg_line_for_negated_or_rule_out_evidence(page, server):
    """An alternative whose evidence is negated, historical, family or uncertain shows no DRG line."""
    body = server.create_encounter("inpatient", "UI-COMPLIANCE-1")
    _open(page, server, body)
    for g in body["working"]["alternatives"]:
        for a in g["alternatives"]:
            kinds = {e["assertion"] for e in a["suggestion"]["evidence"]}
            if kinds and kinds <= {"negated", "historical", "family", "possible", "hypothetical"}:
                assert a["impact"] is None
                expect(page.locator(f"li.alternative[data-code='{a['suggestion']['code']}'] .impact")).to_have_count(0)


def test_double_accept_stores_one_decision(page, server):
    """Issue 21: a double click or a second a press stored the decision twice."""
    body = server.create_encounter("inpatient", "UI-DOUBLE-1")
    target = next(d["code"] for d in body["working"]["diagnoses"] if d["status"] == "proposed")
    _open(page, server, body)
    page.get_by_role("button", name=f"Confirm {target}", exact=True).dblclick()
    expect(_row(page, target).locator(".state")).to_have_text("Confirmed")
    expect(page.get_by_role("button", name=f"Confirm {target}", exact=True)).to_be_disabled()
    for _ in range(2):  # a on a confirmed code only moves on
        _row(page, target).locator("button.code").click()
        _row(page, target).focus()
        page.keyboard.press("a")
    expect(page.locator("#audit-count")).to_have_text("1")
    decisions = server.encounter(body["id"])["decisions"]
    assert [(d["action"], d["code"]) for d in decisions] == [("accept", target)]


def test_change_leaves_one_consistent_row(page, server, shot):
    """Issue 21: after a change, the replaced row said "Changed to X" while the new one said something else."""
    body = _with_diagnoses(server, server.create_encounter("inpatient", "UI-CHANGE-1"), 2)
    working = body["working"]["diagnoses"]
    index = next(i for i, d in enumerate(working) if server.has_alternatives(CM, d["code"]))
    old = working[index]["code"]
    _open(page, server, body)
    page.get_by_role("button", name=f"Change {old}", exact=True).click()
    dialog = page.get_by_role("dialog", name=re.compile("Change"))
    radios = dialog.locator("input[name=alternative]")
    expect(radios.first).to_be_focused()
    chosen = radios.first.get_attribute("value")
    dialog.get_by_role("button", name="Change to the selected code").click()
    expect(_row(page, chosen).locator(".state")).to_have_text(f"Changed from {old}")
    expect(_row(page, old)).to_have_count(0)
    expect(page.locator(f"li.code-row[data-code='{chosen}']")).to_have_count(1)
    assert _order(page).index(chosen) == index
    expect(page.locator(f"li.alternative[data-code='{old}']")).to_have_count(0)
    shot(page, "change")


def test_shortcuts_dialog_and_escape_keep_the_encounter(page, server, shot):
    """Issue 21: ? opened the shortcuts at the bottom of the page and Esc then left the encounter."""
    body = server.create_encounter("outpatient", "UI-HELP-1")
    _open(page, server, body)
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_be_in_viewport()
    for key in ("j", "k", "a", "p", "J", "K", "o", "x", "r", "m", "s"):
        expect(dialog.locator("kbd", has_text=re.compile(f"^{key}$"))).not_to_have_count(0)
    shot(page, "shortcuts")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#encounter-h")).to_have_text("Encounter UI-HELP-1")
    assert "#/encounters/" in page.url


def test_search_key_keeps_the_chosen_system(page, server):
    """Issue 21: s switched the search to the current code's system without a word."""
    body = server.create_encounter("inpatient", "UI-SEARCH-1")
    _open(page, server, body)
    page.get_by_label("System").select_option("ICD-10-PCS")
    page.locator("#encounter-h").focus()
    page.keyboard.press("s")  # the current code is a diagnosis
    expect(page.get_by_label("Search codes")).to_be_focused()
    expect(page.get_by_label("System")).to_have_value("ICD-10-PCS")


@pytest.mark.parametrize(("query", "prefix"), [("chf", "I50."), ("gerd", "K21."), ("afib", "I48."), ("uti", "N39.0"),
                                               ("esophageal cancer", "C15.")])
def test_type_ahead_knows_abbreviations(page, server, query, prefix):
    """Issue 21: type-ahead found nothing for these."""
    body = server.create_encounter("outpatient", f"UI-TYPE-{query[:4].strip()}")
    _open(page, server, body)
    page.get_by_label("Search codes").fill(query)
    expect(page.get_by_role("option", name=re.compile(f"^{re.escape(prefix)}")).first).to_be_visible()


def test_submit_dialog_counts_findings_of_the_coding(page, server):
    """Issue 21: the submit dialog counted findings between candidates nobody had chosen."""
    body = server.create_encounter("inpatient", "UI-SUBMIT-1")
    errors = [f for f in body["findings"] if f["severity"] == "error"]
    in_coding = set(_dx(body)) | {p["code"] for p in body["working"]["procedures"]}
    assert all(set(f["codes"]) <= in_coding for f in body["findings"])
    _open(page, server, body)
    page.keyboard.press("f")
    dialog = page.get_by_role("dialog", name="Submit these codes?")
    warning = dialog.locator(".submit-warning")
    if errors:
        expect(warning).to_contain_text(f"{len(errors)} error finding")
    else:
        expect(warning).not_to_contain_text("error finding")
    unconfirmed = [d["code"] for d in body["working"]["diagnoses"] if d["status"] == "proposed"]
    if unconfirmed:
        expect(warning).to_contain_text(f"Not confirmed, so not submitted: {unconfirmed[0]}")
    dialog.get_by_role("button", name="Keep coding").click()


def test_evidence_lights_up_and_spans_name_their_codes(page, server, shot):
    """Code → its spans (offsets right after a non-BMP character); span → its codes; negated dimmed."""
    body = server.create_encounter("inpatient", "UI-EVIDENCE-1")
    _open(page, server, body)
    expect(page.locator("#note-text")).to_have_text(server.note("inpatient").rstrip("\n") + "\n", use_inner_text=False)
    for c in body["working"]["diagnoses"][:4]:
        if not c["evidence"]:
            continue
        _row(page, c["code"]).locator("button.code").click()
        lit = page.locator("#note-text mark.lit")
        expect(lit.first).to_be_in_viewport()
        covered = "".join(lit.evaluate_all("marks => marks.map(m => m.textContent)"))
        for ev in c["evidence"]:
            assert ev["text"] == server.note("inpatient")[ev["start"]:ev["end"]]
        longest = max(c["evidence"], key=lambda ev: ev["end"] - ev["start"])
        assert longest["text"] in covered
    flagged = [s for s in body["suggestions"] if s["assertion"] in DIMMED]
    for s in flagged:
        expect(_row(page, s["code"])).to_have_count(0)
        expect(page.locator("#flagged-list")).to_contain_text(s["code"])
    first = body["working"]["diagnoses"][0]
    page.locator(f"#note-text mark[data-codes~='{first['code']}']").first.click()
    expect(page.locator("#span-codes")).to_contain_text(first["code"])
    shot(page, "evidence")

def test_keyboard_sign_in_and_open(page, server):
    """Sign in and open an encounter without the mouse; the page starts where the work starts."""
    body = server.create_encounter("outpatient", "UI-KEYS-1")
    page.goto(f"{server.url}/ui/")
    expect(page.get_by_label("API key")).to_be_focused()
    page.keyboard.type(server.key)
    page.keyboard.press("Tab")
    page.keyboard.type("Kim Keys")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#worklist-rows tr[data-id]").first).to_be_focused()
    ids = page.locator("#worklist-rows tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    for _ in range(ids.index(body["id"])):
        page.keyboard.press("j")
    page.keyboard.press("Enter")
    expect(page.locator("#encounter-h")).to_have_text("Encounter UI-KEYS-1")
    expect(page.locator("#encounter-h")).to_be_focused()
    page.keyboard.press("a")
    first = body["working"]["diagnoses"][0]["code"]
    expect(_row(page, first).locator(".state")).to_have_text("Confirmed")
    assert server.encounter(body["id"])["decisions"][0]["coder"] == "Kim Keys"


def test_no_note_text_in_browser_storage_and_key_asked_once(page, server, browser):
    """Only the key and the coder's name are stored, in sessionStorage; a reload does not ask again."""
    body = server.create_encounter("outpatient", "UI-STORAGE-1")
    server.sign_in(page)
    page.goto(f"{server.url}/ui/#/encounters/{body['id']}")
    expect(page.locator("#note-text")).to_contain_text("Urinary tract infection")
    stored = page.evaluate("""async () => ({
        session: Object.fromEntries(Object.entries(sessionStorage)),
        local: Object.fromEntries(Object.entries(localStorage)),
        caches: await caches.keys(),
        idb: (await indexedDB.databases()).map(d => d.name),
        cookies: document.cookie })""")
    assert set(stored["session"]) == {"medcode.apiKey", "medcode.coder"}
    assert stored["local"] == {} and stored["caches"] == [] and stored["idb"] == [] and stored["cookies"] == ""
    assert "Urinary" not in repr(stored)

    page.reload()
    expect(page.locator("#note-text")).to_contain_text("Urinary tract infection")
    expect(page.get_by_label("API key")).to_be_hidden()

    other = browser.new_context()
    try:
        fresh = other.new_page()
        fresh.goto(f"{server.url}/ui/#/encounters/{body['id']}")
        expect(fresh.get_by_label("API key")).to_be_visible()
        expect(fresh.locator("#note-text")).to_be_hidden()
    finally:
        other.close()


def test_refused_key_is_one_clear_message(page, server):
    page.goto(f"{server.url}/ui/")
    page.get_by_label("API key").fill("mc_not-a-key")
    page.get_by_label("Your name").fill("Nobody")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#status-line")).to_have_text("That key was refused. Check it and try again.")
    expect(page.get_by_label("API key")).to_be_focused()
    assert page.evaluate("() => sessionStorage.length") == 0


def test_offsets_count_code_points(page, server):
    """The note's offsets are Python code-point offsets; the page maps them to UTF-16 units."""
    page.goto(f"{server.url}/ui/")
    units = page.evaluate("""async () => {
        const { codePointToUnit } = await import('/ui/js/note.js');
        const text = 'a\\u{1F600}b\\u{1F600}\\u{1F600}cd';
        const toUnit = codePointToUnit(text);
        return [0, 1, 2, 3, 4, 5, 6, 7].map(toUnit);
    }""")
    assert units == [0, 1, 3, 4, 6, 8, 9, 10]


#: WCAG 2.x contrast of every visible text against the background it is drawn on, and the
#: accessible name of every control (label, aria-label/-labelledby, or its own text).
AUDIT = """() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.checkVisibility() || el.closest(".visually-hidden, [disabled], :disabled")) continue;
    const style = getComputedStyle(el);
    const [a, b] = [lum(rgb(style.color).slice(0, 3)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const large = parseFloat(style.fontSize) >= 24 || (parseFloat(style.fontSize) >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) low.push(`${el.tagName}.${el.className} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  const unnamed = [...document.querySelectorAll("input, select, textarea, button, [role=combobox], [role=listbox]")]
    .filter((el) => el.checkVisibility())
    .filter((el) => !(el.labels?.length || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")
      || el.textContent.trim()))
    .map((el) => el.outerHTML.slice(0, 80));
  return { low, unnamed, landmarks: ["header", "nav", "main", "footer"].filter((t) => !document.querySelector(t)) };
}"""


def test_accessibility_contrast_names_landmarks_focus(page, server, shot):
    """Text contrast meets WCAG AA, every control has a name, landmarks exist, focus is visible."""
    body = server.create_encounter("inpatient", "UI-A11Y-1")
    page.goto(f"{server.url}/ui/")
    for view in ("sign-in", "worklist", "encounter"):
        if view == "worklist":
            server.sign_in(page)
            expect(page.locator(f"#worklist-rows tr[data-id='{body['id']}']")).to_be_visible()
        if view == "encounter":
            page.goto(f"{server.url}/ui/#/encounters/{body['id']}")
            expect(page.locator("#encounter-h")).to_have_text("Encounter UI-A11Y-1")
            page.locator("#flagged summary").click()
            page.locator("#note-text mark.dim").first.click()
        audit = page.evaluate(AUDIT)
        assert audit == {"low": [], "unnamed": [], "landmarks": []}, view

    page.keyboard.press("k")  # to the current suggestion, then through its controls
    for _ in range(4):  # keyboard focus is always drawn
        page.keyboard.press("Tab")
        style = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
        assert style not in ("", "none"), page.evaluate("() => document.activeElement.outerHTML.slice(0, 80)")
    page.keyboard.press("?")
    expect(page.locator("#shortcuts")).to_have_attribute("open", "")
    for key in ("j", "k", "a", "r", "m", "s", "Enter"):
        expect(page.locator("#shortcuts kbd", has_text=re.compile(f"^{key}$"))).not_to_have_count(0)
    shot(page, "shortcuts")


def test_page_files_and_headers(server):
    """/ui redirects to the page; files come with a same-origin policy; nothing outside serving/ui is served."""
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/ui").headers["location"] == "/ui/"
        page = client.get("/ui/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "connect-src 'self'" in policy
        assert client.get("/ui/js/app.js").headers["content-type"].startswith("text/javascript")
        for bad in ("/ui/../app.py", "/ui/%2e%2e/app.py", "/ui/js/../../routes/ui.py", "/ui/missing.js"):
            response = client.get(bad)
            assert response.status_code == 404, bad
            assert response.json()["code"] == "E050"
        assert "/ui/" not in client.get("/openapi.json").text


def test_change_offers_more_specific_other_side_and_other_seventh_character(page, server):
    """The alternatives the Change dialog lists, read from the API's code details."""
    server.sign_in(page)
    found = page.evaluate("""async () => {
        const { alternatives } = await import('/ui/js/siblings.js');
        const kinds = async (code) => {
            const out = {};
            for (const a of await alternatives('ICD-10-CM', code)) (out[a.kind] ||= []).push(a.code);
            return out;
        };
        const billable = (await alternatives('ICD-10-CM', 'I50.9')).map((a) => [a.code, a.billable]);
        return { fracture: await kinds('S72.001A'), header: await kinds('I50.2'), failure: await kinds('I50.23'),
                 billable };
    }""")
    assert "S72.001D" in found["fracture"]["Other 7th character"]  # subsequent encounter
    assert found["fracture"]["Other laterality"] == ["S72.002A"]  # left femur, same 7th character
    assert found["header"]["More specific"] == ["I50.20", "I50.21", "I50.22", "I50.23"]
    assert {"I50.21", "I50.22"} <= set(found["failure"]["Sibling"]) and "I50.23" not in found["failure"]["Sibling"]
    # Issue 21: Change offered non-billable headers (I50.2, I50.3 … beside I50.9); only billable codes now.
    assert found["billable"] and all(billable for _, billable in found["billable"])
    assert not {"I50.2", "I50.3", "I50.4", "I50.8"} & {code for code, _ in found["billable"]}
