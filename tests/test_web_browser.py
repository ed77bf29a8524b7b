"""Three whole consultations in a real browser: Debian's headless Chromium driven by Selenium
against `haircare serve` in its own process.

Needs /usr/bin/chromium and /usr/bin/chromedriver (Debian packages `chromium` and
`chromium-driver`); skipped with the reason when they are absent. Nothing is downloaded. A
screenshot of every screen goes to tests/screenshots/ (git-ignored; HAIRCARE_SCREENSHOTS moves
it) for a person to look at, at tablet size in both orientations.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from web_scenarios import SCENARIOS, answers_of, form_values, terminal_json, typed

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
LANDSCAPE, PORTRAIT = (1024, 768), (768, 1024)
SHOTS = Path(os.environ.get("HAIRCARE_SCREENSHOTS") or Path(__file__).parent / "screenshots")

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip("Debian's chromium and chromium-driver are not installed "
                "(apt-get install chromium chromium-driver)", allow_module_level=True)

from selenium.common.exceptions import NoSuchElementException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


# -- the server and the browser ------------------------------------------------------------------
class Server:
    """`haircare serve` in a child process, on a free port kept across restarts."""

    def __init__(self, db_url: str, home: Path, password: str = ""):
        self.db_url = db_url
        self.password = password
        self.home = home
        self.port = 0
        self.proc = None
        self.address = ""

    def start(self) -> None:
        env = {**os.environ, "HOME": str(self.home), "HAIRCARE_PASSWORD": self.password,
               "HAIRCARE_PASSWORD_FILE": ""}
        self.log = open(self.home / "serve.log", "a", encoding="utf-8")   # closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "haircare_expert", "serve", "--port", str(self.port), "--db", self.db_url],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env, cwd=self.home)
        line = self.proc.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not found:
            self.proc.kill()
            self.proc.wait()
            self.log.close()
            raise AssertionError(f"haircare serve did not start: {line}"
                                 f"{(self.home / 'serve.log').read_text(encoding='utf-8')[-2000:]}")
        self.port = int(found.group(1))
        self.address = found.group(0)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc.stdout.close()
            self.log.close()

    def restart(self) -> None:
        self.stop()
        for _ in range(50):          # the port may take a moment to be free again
            try:
                self.start()
                return
            except AssertionError:
                time.sleep(0.2)
        self.start()


@pytest.fixture
def server(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    server = Server(f"sqlite:///{tmp_path / 'records.db'}", home)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def browser(tmp_path):
    os.environ.setdefault("SE_OFFLINE", "true")      # never let Selenium fetch a driver
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-default-apps",
                "--disable-dev-shm-usage", "--hide-scrollbars",
                f"--user-data-dir={tmp_path / 'chromium-profile'}",
                f"--window-size={LANDSCAPE[0]},{LANDSCAPE[1]}"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)),
                              options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


class Tour:
    """One consultation in the browser, with a screenshot of each screen."""

    def __init__(self, driver, server, name: str):
        self.d = driver
        self.server = server
        self.folder = SHOTS / name
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.count = 0

    def shot(self, screen: str, both: bool = False) -> None:
        """Save the screen at 1024x768 (and 768x1024 too when ``both``)."""
        self.count += 1
        sizes = (LANDSCAPE, PORTRAIT) if both else (LANDSCAPE,)
        for width, height in sizes:
            self._viewport(width, height)
            self.d.save_screenshot(str(self.folder / f"{self.count:02d}-{screen}-{width}x{height}.png"))
        self._viewport(*LANDSCAPE)

    def _viewport(self, width: int, height: int) -> None:
        self.d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def go(self, path: str) -> None:
        self.d.get(self.server.address.rstrip("/") + path)

    def find(self, css: str):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def has(self, css: str) -> bool:
        return bool(self.d.find_elements(By.CSS_SELECTOR, css))

    def click(self, css: str) -> None:
        self.find(css).click()

    def key(self) -> str | None:
        try:
            return self.find("input[name=key]").get_attribute("value")
        except NoSuchElementException:
            return None

    def page_text(self) -> str:
        return self.find("main").text

    def fill(self, values: list[str]) -> None:
        """Put an answer into the question form, as a consultant taps it in."""
        inputs = self.d.find_elements(By.CSS_SELECTOR, "input[name=answer]")
        kind = inputs[0].get_attribute("type")
        if kind in ("radio", "checkbox"):
            for box in inputs:
                if box.is_selected() != (box.get_attribute("value") in values):
                    box.find_element(By.XPATH, "..").click()     # tap the label, as on a tablet
        else:
            box = inputs[0]
            box.clear()
            if kind == "date":
                self.d.execute_script("arguments[0].value = arguments[1]", box, values[0])
            else:
                box.send_keys(values[0])

    def submit(self, css: str = "#next") -> None:
        """Tap a button and wait for the next page (a fresh window object, fully loaded)."""
        self.d.execute_script("window.__before = 1")
        self.click(css)
        WebDriverWait(self.d, 30).until(lambda d: d.execute_script(
            "return window.__before === undefined && document.readyState === 'complete'"))


def downloaded(folder: Path, suffix: str) -> Path:
    for _ in range(300):
        done = [p for p in folder.glob(f"*{suffix}")]
        if done:
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no {suffix} file was downloaded into {folder}")


# -- the consultations -----------------------------------------------------------------------------
#: The answer changed on the review screen (and changed back) in each consultation.
EDITS = {"serum-misuse": ("hair.concerns", ["frizz"]),
         "oily-buildup": ("scalp.symptoms", ["oiliness", "buildup", "patchy_loss"]),
         "red-flags": ("scalp.symptoms", ["excessive_shedding", "itching"])}


@pytest.mark.parametrize("example", SCENARIOS)
def test_a_whole_consultation_in_the_browser(browser, server, tmp_path, example):
    """A consultant runs a whole consultation on the tablet: Why, Back, Don't know, a reload and
    a server restart half-way, a review edit, the handout and its PDF; the record equals the
    terminal interview's for the same answers."""
    client, answers = answers_of(example)
    tour = Tour(browser, server, example)
    tour.go("/")
    tour.shot("start", both=True)
    tour.find("#client").send_keys(client["name"])
    consultant = tour.find("#consultant")
    consultant.clear()
    consultant.send_keys(client["consultant"])
    browser.execute_script("arguments[0].value = arguments[1]", tour.find("#date"), client["date"])
    tour.submit("#begin")

    given: list[str] = []
    number = 0
    went_back = reloaded = restarted = False
    while (key := tour.key()) is not None:
        number += 1
        assert re.search(r"Question \d+", tour.find(".progress").text)
        if number == 1:
            tour.click("#why summary")
            assert "waiting on it" in tour.find("#why").text
            tour.shot("question-why", both=True)
        else:
            tour.shot(f"question-{key.replace('[', '-').replace('].', '-')}", both=number <= 3)
        if number == 3 and not reloaded:
            browser.refresh()                      # a reload keeps the question and the answers
            assert tour.key() == key
            reloaded = True
        if number == 4 and not restarted:
            server.restart()                       # the server goes down and up again
            tour.go("/c/1/question")
            assert tour.key() == key, "the restarted server asks the same question"
            restarted = True
        if key in answers:
            values = form_values(answers[key])
            tour.fill(values)
            tour.submit("#next")
            given.append(typed(values))
        else:
            tour.submit("#dontknow")
            given.append("unknown")
        if number == 2 and not went_back:
            assert tour.has("#back")
            tour.submit("#back")
            went_back = True
            assert "Going back" in tour.page_text()
            tour.shot("back", both=False)
            given.pop()
            number -= 1
    assert went_back and reloaded and restarted

    # the review screen: change one answer, see the advice follow, change it back
    assert "/review" in browser.current_url
    tour.shot("review", both=True)
    field, other = EDITS[example]
    original = form_values(answers[field])
    tour.go(f"/c/1/edit?key={field}")
    tour.shot("edit", both=True)
    tour.fill(other)
    tour.submit("#next")
    assert "/review" in browser.current_url
    panel = tour.find(".panel").text
    assert "Your last answer" in panel
    tour.shot("review-after-edit", both=False)
    tour.go(f"/c/1/edit?key={field}")
    tour.fill(original)
    tour.submit("#next")

    tour.submit("#finish")
    assert "/done" in browser.current_url
    tour.shot("done", both=True)

    tour.find("#advice .why-link").click()
    assert "This advice was given." in tour.page_text()
    tour.shot("why", both=True)
    browser.back()
    Select(tour.find("#rule")).select_by_value("refer-patchy-hair-loss")
    tour.submit("#whynot")
    assert "This advice was " in tour.page_text()
    tour.shot("why-not", both=False)
    browser.back()

    tour.click("#pdf")
    pdf = downloaded(browser.downloads, ".pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    tour.click("#json")
    record = json.loads(downloaded(browser.downloads, ".json").read_text(encoding="utf-8"))
    assert record == terminal_json(client, given, tmp_path)

    tour.go("/c/1/handout.html")
    assert client["name"] in browser.find_element(By.TAG_NAME, "body").text
    tour.shot("handout", both=True)


def test_sign_in_and_error_pages_in_the_browser(browser, tmp_path):
    """With a password set the browser first meets the sign-in page; a wrong password and a
    wrong address give plain pages (screenshots of each)."""
    home = tmp_path / "home-locked"
    home.mkdir()
    server = Server(f"sqlite:///{tmp_path / 'locked.db'}", home, password="open sesame")
    server.start()
    try:
        tour = Tour(browser, server, "sign-in-and-errors")
        tour.go("/")
        assert "/login" in browser.current_url
        tour.shot("sign-in", both=True)
        tour.find("#password").send_keys("guess")
        tour.submit("button[type=submit]")
        assert "not right" in tour.page_text()
        tour.shot("wrong-password", both=False)
        tour.find("#password").send_keys("open sesame")
        tour.submit("button[type=submit]")
        assert "New consultation" in tour.page_text()
        tour.go("/c/404/review")
        assert "Not found" in tour.page_text()
        tour.shot("not-found", both=True)
    finally:
        server.stop()


def test_a_follow_up_visit_in_the_browser(browser, server):
    """A client comes back: the consultant finds her, taps Follow-up visit, keeps or changes each
    section of the last visit's answers, and the finished visit says the flaking has gone."""
    client, answers = answers_of("dry-flaky-scalp")
    tour = Tour(browser, server, "follow-up")
    tour.go("/")
    tour.find("#client").send_keys(client["name"])
    tour.find("#consultant").send_keys(client["consultant"])
    browser.execute_script("arguments[0].value = arguments[1]", tour.find("#date"), client["date"])
    tour.submit("#begin")
    while (key := tour.key()) is not None:
        if key in answers:
            tour.fill(form_values(answers[key]))
            tour.submit("#next")
        else:
            tour.submit("#dontknow")
    tour.submit("#finish")

    tour.go("/?q=" + client["name"].split()[0])
    tour.shot("search-follow-up", both=False)
    tour.submit("button.followup")
    assert "/followup" in browser.current_url and "flaking, itching, soreness" in tour.page_text()
    tour.shot("confirm-scalp", both=True)
    tour.submit("#change")
    while "/followup" in browser.current_url:
        tour.submit("#same")
    assert tour.key() == "scalp.symptoms"
    tour.fill(["none"])
    tour.submit("#next")
    while tour.key() is not None:
        tour.submit("#dontknow")
    tour.submit("#finish")
    assert "/done" in browser.current_url
    since = tour.find("#since").text
    assert "Gone since then" in since and "flakes" in since
    tour.shot("done-follow-up", both=True)
    tour.go("/c/2/handout.html")
    assert "Since your last visit" in browser.find_element(By.TAG_NAME, "body").text
    tour.shot("handout-follow-up", both=False)
