"""``check --format html``: a well-formed, escaped, self-contained page (fast), and the page of
the whole corpus opened in headless Chromium (slow): every formula typeset (the derived ones
once their collapsed sections are opened), every claim and badge present, the failure filter
working; its screenshot is docs/report.png."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tensorcalc.cli import _files, main
from tensorcalc.core.model import Prepared
from tensorcalc.errors import Pos, TensorcalcError
from tensorcalc.frontends import load_spec
from tensorcalc.outputs.html import to_html
from tensorcalc.verdicts.check import FileResult, Instance, unchecked

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "<script>alert(1)</script>"
BADGES = {"✓ holds", "✗ fails", "✗ expected to fail", "? inconclusive", "definition"}
VOID = {"meta", "input", "br", "img", "link", "hr"}


class Structure(HTMLParser):
    """Open/close tags checked for nesting; articles and scripts counted."""

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()


def _parsed(page: str) -> Structure:
    parser = Structure()
    parser.feed(page)
    parser.close()
    assert not parser.errors and not parser.stack, (parser.errors, parser.stack)
    return parser


def _hostile_file(tmp_path: Path) -> Path:
    """derivations/shallow_wrong.yaml under a name and title that are HTML."""
    text = (ROOT / "derivations" / "shallow_wrong.yaml").read_text(encoding="utf-8")
    text = re.sub(r"^title: .*$", 'title: "</style></title><img src=x onerror=alert(2)>"', text, count=1, flags=re.M)
    path = tmp_path / f"{HOSTILE}.yaml"  # a folder `<script>alert(1)<` holding `script>.yaml`
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    return path


def _results(path: Path) -> list[FileResult]:
    """Results for every claim of ``path`` without checking: each fails as its file expects,
    with a diagnosis naming a correct formula (the view reads results, it does not check)."""
    result = FileResult(str(path), title=load_spec(path).title, layout="numerator")
    for claim in Prepared(load_spec(path)).claims:
        entry = unchecked(claim)
        reason = "off by a constant factor: claimed = -1 × true; correct: d loss / d r = r^T"
        entry.instances.append(Instance({"d": 3, "h": 4, "n": 2}, "fails", reason, exact_points=2))
        result.claims.append(entry)
    return [result]


def test_page_is_well_formed_escaped_and_has_one_entry_per_claim(tmp_path):
    path = _hostile_file(tmp_path)
    results = _results(path)
    page = to_html(results)
    structure = _parsed(page)
    articles = [a for tag, a in structure.tags if tag == "article"]
    assert len(articles) == len(results[0].claims) == 10
    assert all(a["class"].split()[1:] == ["expected-to-fail", "problem"] for a in articles)
    markup = page[: page.index("<script>")]  # everything but KaTeX and the page's script
    assert HOSTILE not in markup and "<img" not in markup and "</title><img" not in markup
    assert "&lt;/style&gt;&lt;/title&gt;&lt;img src=x onerror=alert(2)&gt;" in markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.yaml" in markup
    assert [tag for tag, _a in structure.tags].count("script") == 2  # KaTeX and the page's own
    formulas = [a for tag, a in structure.tags if a.get("class") == "math"]
    in_claims = page[: page.index('<details class="derived">')].count('<div class="math"')
    assert in_claims == 2 * 10  # every claim, and the correct formula its diagnosis names
    assert len(formulas) > in_claims  # and, collapsed, the derived gradients
    assert all(a["aria-label"] for a in formulas)
    assert "correct: d loss" not in markup and "claimed = -1 × true [d=3, h=4, n=2]</p>" in markup  # typeset, not repeated
    assert page.count(r"\frac{\partial \mathrm{loss}}{\partial r} &amp;= r^{\top}") == 2 * 10  # shown, and as its aria-label


def test_unexpected_and_inconclusive_verdicts_are_said_in_words():
    [result] = _results(ROOT / "derivations" / "shallow_wrong.yaml")
    result.claims[0].expected = "holds"
    result.claims[1].instances = [Instance({}, "timeout", "gave up after 1 s")]
    page = to_html([result])
    assert page.count(">✗ fails<") == 1 and page.count(">? inconclusive<") == 1 and page.count(">✗ expected to fail<") == 8
    assert "unexpected: expected to hold" in page and "Not all as expected" in page


def test_an_invalid_file_says_why():
    error = TensorcalcError("unexpected end of '<b>x +'", Pos("notes/<i>.md", 5, 15))
    page = to_html([FileResult("notes/<i>.md", error=error)])
    markup = page[: page.index("<script>")]
    assert "notes/&lt;i&gt;.md:5:15: unexpected end of &#x27;&lt;b&gt;x +&#x27;" in markup and "<b>" not in markup
    assert '<section class="file problem">' in markup and "<strong>1</strong> invalid files" in markup


def test_cli_writes_the_page(tmp_path):
    out = tmp_path / "report.html"
    assert main(["check", str(ROOT / "derivations" / "shallow.yaml"), "--format", "html", "-o", str(out), "-q"]) == 0
    assert out.read_text(encoding="utf-8").count('<article class="claim holds"') == 8


def test_page_is_offline():
    """No address the browser could fetch: fonts are data: URIs, the policy forbids the rest."""
    path = str(ROOT / "derivations" / "shallow.yaml")
    page = to_html([FileResult(path, claims=[unchecked(c) for c in Prepared(load_spec(path)).claims])])
    assert "default-src 'none'" in page
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:|//)", page)
    urls = re.findall(r"url\(([^)]{0,40})", page)
    assert urls and all(u.startswith("data:font/woff2;base64,") for u in urls)


# ------------------------------------------------------------------------------ in a browser
def _browser():
    """Headless Chromium from the system packages through Selenium; skip outside CI when missing."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        webdriver = None
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if webdriver is None or not browser or not driver:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium, chromedriver or selenium missing in CI: .ci/run installs chromium and chromium-driver")
        pytest.skip("no headless Chromium here")
    options = Options()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1000,900"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=options)


@pytest.fixture(scope="module")
def corpus_page(tmp_path_factory):
    """The report of derivations/ and notes/, written by the command line, and its claims."""
    path = tmp_path_factory.mktemp("html") / "report.html"
    with contextlib.chdir(ROOT):  # paths in the page as a user types them
        files = _files(["derivations", "notes"])
        assert main(["check", "derivations", "notes", "--format", "html", "-o", str(path), "-q"]) == 0
        return path, [c for f in files for c in Prepared(load_spec(f)).claims]


@pytest.mark.slow
def test_corpus_report_in_chromium(corpus_page):
    """Every verdict is as expected (exit 0): the failures are exactly the claims marked to fail."""
    path, claims = corpus_page
    expected_to_fail = [c for c in claims if c.kind != "helper" and c.expect == "fails"]
    assert {Path(c.pos.file).suffix for c in claims} >= {".yaml", ".md", ".tex"}
    browser = _browser()
    try:
        browser.get(path.as_uri())
        assert browser.find_element("tag name", "body").get_attribute("data-render-ms") is not None, "the page's script did not run"
        assert browser.find_elements("css selector", ".katex-error") == []
        formulas = browser.find_elements("css selector", "article .math")
        assert len(formulas) >= len(claims)
        assert len(browser.find_elements("css selector", "article .math > .katex-display")) == len(formulas)
        assert all(f.get_attribute("aria-label") for f in formulas)
        _check_derived_formulas(browser, len({c.pos.file for c in claims}))
        entries = browser.find_elements("css selector", "article.claim")
        assert len(entries) == len(claims)
        badges = [e.find_element("css selector", ".badge").text for e in entries]
        assert set(badges) <= BADGES and badges.count("✗ expected to fail") == len(expected_to_fail)
        _check_filter(browser, len(claims), len(expected_to_fail))
        browser.execute_script("window.scrollTo(0, 0)")
        assert browser.save_screenshot(str(ROOT / "docs" / "report.png"))
        _check_phone_and_print(browser)
    finally:
        browser.quit()


def _check_derived_formulas(browser, n_files: int) -> None:
    """One collapsed section of derived formulas per file, typeset when opened: every gradient's
    result has its factors' shapes underbraced, or says why it was not derived."""
    from selenium.webdriver.support.ui import WebDriverWait

    sections = browser.find_elements("css selector", "details.derived")
    assert len(sections) == n_files and not any(s.get_attribute("open") for s in sections)
    assert browser.find_elements("css selector", "details.derived .math > .katex-display") == []  # not yet typeset
    for section in sections:
        browser.execute_script("arguments[0].scrollIntoView(); arguments[0].open = true", section)
    derived = browser.find_elements("css selector", "details.derived .math")
    typeset = "return document.querySelectorAll('details.derived .math > .katex-display').length"
    WebDriverWait(browser, 60).until(lambda b: b.execute_script(typeset) == len(derived))  # the toggle events ran
    assert derived
    assert browser.find_elements("css selector", ".katex-error") == []
    gradients = browser.find_elements("css selector", ".gradient > .math:first-child")
    assert gradients and all("\\underbrace" in g.get_attribute("aria-label") for g in gradients)
    assert all(s.find_elements("css selector", ".gradient, .not-derived") for s in sections)
    for section in sections:
        browser.execute_script("arguments[0].open = false", section)


def _check_filter(browser, n_claims: int, n_problems: int) -> None:
    """Clicking 'Show only failures' leaves exactly the claims that fail, are inconclusive or unexpected."""
    def shown():
        return [e for e in browser.find_elements("css selector", "article.claim") if e.is_displayed()]

    assert len(shown()) == n_claims
    box = browser.find_element("id", "only-failures")
    assert box.is_displayed()
    box.click()
    visible = shown()
    assert 0 < len(visible) == n_problems < n_claims
    assert all("problem" in e.get_attribute("class").split() for e in visible)
    assert all(e.find_element("css selector", ".badge").text != "✓ holds" or
               e.find_elements("css selector", ".unexpected") for e in visible)


def _check_phone_and_print(browser) -> None:
    """At a phone's width nothing but a wide formula's own box scrolls sideways; printed, the filter is gone."""
    browser.set_window_size(380, 800)
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not browser.find_element("id", "only-failures").is_displayed()
    assert browser.execute_cdp_cmd("Page.printToPDF", {})["data"]
