"""The coder's review page in headless Chromium against a real server: the worklist, evidence
highlighting, decisions (mouse and keyboard only), persistence across a reload, submission, and
what the browser keeps."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import expect

DIMMED = {"negated", "family"}


def _shown(body: dict) -> list[dict]:
    """The suggestions the page lists (negated and family ones are shown dimmed in the note instead)."""
    return [s for s in body["suggestions"] if s["assertion"] not in DIMMED]


def _row(page, code: str):
    return page.locator(f"li.suggestion[data-code='{code}']")


def test_review_flow(page, server, shot):
    """Worklist → encounter → accept, reject, add by search → reload keeps them → submit → gone."""
    body = server.create_encounter("inpatient", "UI-FLOW-1")
    shown = _shown(body)
    assert len(shown) >= 2, "the small index must suggest at least two present codes for the note"
    first, second = shown[0]["code"], shown[1]["code"]

    server.sign_in(page)
    row = page.locator(f"#worklist-rows tr[data-id='{body['id']}']")
    expect(row).to_be_visible()
    expect(row).to_contain_text("67 y, male")
    expect(row).to_contain_text("inpatient")
    expect(row.locator("td.num")).to_have_text(str(len(shown)))  # the codes for the patient
    shot(page, "01-worklist")

    row.click()
    expect(page.locator("#encounter-h")).to_have_text("Encounter UI-FLOW-1")
    expect(page.locator("li.suggestion")).to_have_count(len(shown))
    shot(page, "02-encounter")

    page.get_by_role("button", name=f"Accept {first}").click()
    expect(_row(page, first).locator(".state")).to_have_text("Accepted")

    page.get_by_role("button", name=f"Reject {second}").click()
    dialog = page.get_by_role("dialog", name=re.compile(f"Reject {re.escape(second)}"))
    dialog.get_by_label("Wrong specificity").check()
    dialog.get_by_label("Comment").fill("documented elsewhere")
    dialog.get_by_role("button", name="Reject").click()
    expect(_row(page, second).locator(".state")).to_have_text("Rejected: Wrong specificity: documented elsewhere")

    page.get_by_label("Search codes").fill("pneumonia")
    option = page.get_by_role("option", name=re.compile(r"^J18\.9\b"))
    expect(option).to_be_visible()
    shot(page, "03-search")
    option.click()
    final = page.locator("#final-list")
    expect(final).to_contain_text("J18.9")
    expect(final).to_contain_text(first)
    expect(final).not_to_contain_text(second)
    shot(page, "04-decided")

    page.reload()
    expect(_row(page, first).locator(".state")).to_have_text("Accepted")
    expect(_row(page, second).locator(".state")).to_contain_text("Rejected")
    expect(page.locator("#final-list")).to_contain_text("J18.9")
    expect(page.locator("#audit-count")).to_have_text("3")
    shot(page, "05-reloaded")

    stored = server.encounter(body["id"])
    assert [(d["action"], d["code"], d["coder"]) for d in stored["decisions"]] == [
        ("accept", first, "Jo Coder"), ("reject", second, "Jo Coder"), ("add", "J18.9", "Jo Coder")]

    page.get_by_role("button", name="Submit codes").click()
    confirm = page.get_by_role("dialog", name="Submit these codes?")
    expect(confirm).to_contain_text("J18.9")
    shot(page, "06-submit")
    confirm.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    expect(page.locator(f"#worklist-rows tr[data-id='{body['id']}']")).to_have_count(0)
    shot(page, "07-after-submit")
    after = server.encounter(body["id"])
    assert after["status"] == "submitted"
    assert {c["code"] for c in after["final_codes"]} == {first, "J18.9"}

    page.goto(f"{server.url}/ui/#/encounters/{body['id']}")
    expect(page.locator("#enc-status")).to_have_text("submitted")
    expect(page.get_by_role("button", name="Submit codes")).to_be_disabled()
    expect(page.get_by_role("button", name=f"Accept {first}")).to_be_hidden()
    with page.expect_download() as download:
        page.get_by_role("button", name="CSV").click()
    assert download.value.suggested_filename == "encounter-UI-FLOW-1.csv"
    exported = Path(download.value.path()).read_text()
    assert "J18.9" in exported and first in exported and second not in exported


def test_evidence_lights_up_and_spans_name_their_codes(page, server, shot):
    """Code → its spans (offsets right after a non-BMP character); span → its codes; negated dimmed."""
    body = server.create_encounter("inpatient", "UI-EVIDENCE-1")
    server.sign_in(page)
    page.goto(f"{server.url}/ui/#/encounters/{body['id']}")
    expect(page.locator("#note-text")).to_have_text(server.note("inpatient").rstrip("\n") + "\n", use_inner_text=False)

    for s in _shown(body)[:4]:
        _row(page, s["code"]).locator("button.code").click()
        lit = page.locator("#note-text mark.lit")
        expect(lit.first).to_be_in_viewport()
        texts = lit.evaluate_all("marks => marks.map(m => m.textContent)")
        # Overlapping spans split into pieces; together the lit pieces cover exactly the evidence.
        covered = "".join(texts)
        for ev in s["evidence"]:
            assert ev["text"] in server.note("inpatient")[ev["start"]:ev["end"]]
        assert set(covered) <= set("".join(ev["text"] for ev in s["evidence"]))
        longest = max(s["evidence"], key=lambda ev: ev["end"] - ev["start"])
        assert longest["text"] in page.evaluate(
            "() => [...document.querySelectorAll('#note-text mark.lit')].map(m => m.textContent).join('')")

    flagged = [s for s in body["suggestions"] if s["assertion"] in DIMMED]
    for s in flagged:
        expect(_row(page, s["code"])).to_have_count(0)
        expect(page.locator("#flagged-list")).to_contain_text(s["code"])
    if flagged:
        dim = page.locator("#note-text mark.dim").filter(has_text=flagged[0]["evidence"][-1]["text"])
        expect(dim.first).to_be_attached()

    target = _shown(body)[0]
    page.locator(f"#note-text mark[data-codes~='{target['code']}']").first.click()
    expect(page.locator("#span-codes")).to_contain_text(target["code"])
    shot(page, "evidence")


def test_keyboard_only(page, server, shot):
    """Sign in, open, move, accept, reject and change to a sibling without touching the mouse."""
    body = server.create_encounter("outpatient", "UI-KEYS-1")
    shown = _shown(body)
    assert len(shown) >= 3
    page.goto(f"{server.url}/ui/")
    expect(page.get_by_label("API key")).to_be_focused()  # the page starts where the work starts
    page.keyboard.type(server.key)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Your name")).to_be_focused()
    page.keyboard.type("Kim Keys")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()

    expect(page.locator(f"#worklist-rows tr[data-id='{body['id']}']")).to_be_visible()
    expect(page.locator("#worklist-rows tr[data-id]").first).to_be_focused()
    rows = page.locator("#worklist-rows tr[data-id]")
    ids = rows.evaluate_all("rows => rows.map(r => r.dataset.id)")
    for _ in range(ids.index(body["id"])):
        page.keyboard.press("j")
    expect(page.locator(f"#worklist-rows tr[data-id='{body['id']}']")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#encounter-h")).to_have_text("Encounter UI-KEYS-1")
    expect(page.locator("#encounter-h")).to_be_focused()

    page.keyboard.press("a")  # the first suggestion
    expect(_row(page, shown[0]["code"]).locator(".state")).to_have_text("Accepted")
    expect(_row(page, shown[1]["code"])).to_be_focused()
    page.keyboard.press("r")
    expect(page.get_by_role("dialog", name=re.compile("Reject"))).to_be_visible()
    page.keyboard.press("Enter")  # the default reason
    expect(_row(page, shown[1]["code"]).locator(".state")).to_have_text("Rejected: Not documented")
    expect(_row(page, shown[2]["code"])).to_be_focused()
    # Change the first code that has a child or a sibling to change to (I10, say, has neither).
    target = next(i for i, s in enumerate(shown) if server.has_alternatives(s["system"], s["code"]))
    for _ in range(2 - target):
        page.keyboard.press("k")
    for _ in range(target - 2):
        page.keyboard.press("j")
    expect(_row(page, shown[target]["code"])).to_be_focused()
    page.keyboard.press("m")
    dialog = page.get_by_role("dialog", name=re.compile("Change"))
    expect(dialog.locator("input[name=alternative]").first).to_be_focused()
    shot(page, "keyboard-modify")
    chosen = dialog.locator("input[name=alternative]").first.get_attribute("value")
    page.keyboard.press("Enter")
    expect(_row(page, shown[target]["code"]).locator(".state")).to_have_text(f"Changed to {chosen}")

    stored = server.encounter(body["id"])
    assert [(d["action"], d["code"], d.get("replaces")) for d in stored["decisions"]] == [
        ("accept", shown[0]["code"], None), ("reject", shown[1]["code"], None),
        ("modify", chosen, shown[target]["code"])]
    assert all(d["coder"] == "Kim Keys" for d in stored["decisions"])


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
        return { fracture: await kinds('S72.001A'), header: await kinds('I50.2'), failure: await kinds('I50.23') };
    }""")
    assert "S72.001D" in found["fracture"]["Other 7th character"]  # subsequent encounter
    assert found["fracture"]["Other laterality"] == ["S72.002A"]  # left femur, same 7th character
    assert found["header"]["More specific"] == ["I50.20", "I50.21", "I50.22", "I50.23"]
    assert {"I50.21", "I50.22"} <= set(found["failure"]["Sibling"]) and "I50.23" not in found["failure"]["Sibling"]
