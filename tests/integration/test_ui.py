"""`mockrec ui` in a real headless browser (Debian's chromium through selenium), over traffic
recorded by the real proxy from a real upstream; and its token and Host checks over plain
HTTP."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from conftest import PNG, TEXT, RunningProxy, UpstreamServer, wait_for_entries

from recorder.proxy import remote
from recorder.store.collection_store import CollectionStore
from recorder.store.history import HistoryStore

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# The README's screenshots, rewritten only when asked (MOCKREC_SCREENSHOTS=1), so that a
# test run leaves the checkout as it was.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
BANNER = re.compile(r"mockrec ui on (http://[^/\s]+)/\?token=(\S+)")
BIG_JSON = json.dumps({"items": [{"n": i, "text": "lorem ipsum " * 4} for i in range(5000)]})


class RunningUi:
    """`mockrec ui --port 0` in a subprocess; `base` and `token` come from its banner."""

    def __init__(self, data_dir: Path):
        self.log = data_dir.parent / f"{data_dir.name}-ui.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "recorder", "--data-dir", str(data_dir), "ui", "--port", "0"],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            match = BANNER.search(self.log.read_text(errors="replace"))
            if match:
                self.base, self.token = match.group(1), match.group(2)
                self.port = int(self.base.rsplit(":", 1)[1])
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.process.kill()
        raise RuntimeError(f"mockrec ui did not start:\n{self.log.read_text()}")

    @contextlib.contextmanager
    def client(self) -> Iterator[httpx.Client]:
        """A client that holds the token the way a browser does: the cookie."""
        with httpx.Client(base_url=self.base, timeout=10) as client:
            assert client.get(f"/?token={self.token}", follow_redirects=True).status_code == 200
            yield client

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@dataclass
class Scene:
    data: Path
    upstream: UpstreamServer
    ui: RunningUi
    confdir: Path
    replay: RunningProxy | None = None
    shop: bool = False
    proxies: list[RunningProxy] = field(default_factory=list)


@pytest.fixture(scope="module")
def scene(confdir, tmp_path_factory):
    """A few requests recorded through the real proxy, and `mockrec ui` over them."""
    upstream = UpstreamServer()
    data = tmp_path_factory.mktemp("ui") / "data"
    proxy = RunningProxy(data, ["--upstream", upstream.url], confdir)
    with httpx.Client(base_url=proxy.url) as client:
        client.get("/users/1")
        client.get("/users/2", headers={"X-Trace": "ui-test-42"})
        client.get("/png")
        client.get("/gzip", headers={"Accept-Encoding": "gzip"})
        client.post("/echo", json={"order": 1})
        client.post("/echo", content=BIG_JSON.encode(),
                    headers={"Content-Type": "application/json"})
    wait_for_entries(proxy.store, 6)
    proxy.stop()
    ui = RunningUi(data)
    scene = Scene(data, upstream, ui, confdir)
    yield scene
    ui.stop()
    for running in scene.proxies:
        running.stop()
    upstream.close()


@pytest.fixture(scope="module")
def browser(scene):
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip("needs Debian's chromium and chromium-driver (/usr/bin/chromium, "
                    "/usr/bin/chromedriver): apt-get install -y chromium chromium-driver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("needs selenium (pip install -e '.[test]')")
    profile = tempfile.mkdtemp(prefix="mockrec-ui-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    # The driver named here, never one selenium would download.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_window_size(1280, 800)
    driver.get(f"{scene.ui.base}/?token={scene.ui.token}")
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


# -- helpers -------------------------------------------------------------------------------


def wait_for(browser, condition, timeout: float = 10.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout, poll_frequency=0.05).until(lambda _: condition())


def css(browser, selector: str):
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, selector)


def css_all(browser, selector: str) -> list:
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, selector)


def urls(browser) -> list[str]:
    return [td.text for td in css_all(browser, "#entries tbody td.url")]


def follow(browser, element, confirm: bool = False) -> None:
    """Click a link or a submit button (saying yes when it asks), wait for the next page.

    The page before the click is marked with a property of its window; the next page is
    there once a fresh window object without that mark answers. (Asking the old <html>
    element whether it is stale races with Chrome detaching it: mid-navigation Chrome
    answers "Node with given id does not belong to the document" instead.)
    """
    from selenium.common.exceptions import WebDriverException

    browser.execute_script("window.mockrecPageBefore = true")
    element.click()
    if confirm:
        wait_for(browser, lambda: browser.switch_to.alert)
        browser.switch_to.alert.accept()

    def next_page_loaded() -> bool:
        try:
            return browser.execute_script(
                "return window.mockrecPageBefore === undefined"
                " && document.readyState === 'complete'")
        except WebDriverException:  # between the two documents
            return False
    wait_for(browser, next_page_loaded)


def submit(browser, button_selector: str) -> None:
    follow(browser, css(browser, button_selector))


def paths(browser) -> list[str]:
    """The paths in the call log's table, top down."""
    return [td.text for td in css_all(browser, "#calls tbody td.url")]


def flash(browser) -> str:
    return css(browser, "#flash").text


def mock_request_shop(scene: Scene, browser) -> None:
    """In the page: filter the history to the users, tick both, Mock Request them into a new
    collection `shop` (template inference on, the default)."""
    if scene.shop:
        return
    browser.get(f"{scene.ui.base}/history")
    path = css(browser, "input[name=path]")
    path.clear()
    path.send_keys("/users/*")
    submit(browser, "form.filters button[type=submit]")
    assert [u.rsplit("/", 2)[-2:] for u in urls(browser)] == [["users", "2"], ["users", "1"]]
    for box in css_all(browser, "#entries input[name=id]"):
        box.click()
    button = css(browser, "[data-promote]")
    assert button.text == "Mock Request (2)" and button.is_enabled()
    assert css(browser, "select[name=collection]").get_attribute("value") == ""  # a new one
    css(browser, "input[name=new_collection]").send_keys("shop")
    submit(browser, "[data-promote]")
    assert browser.current_url == f"{scene.ui.base}/collections/shop"
    scene.shop = True


def replay_proxy(scene: Scene) -> RunningProxy:
    """`mockrec replay shop`, running on the same data dir as the UI."""
    if scene.replay is None:
        scene.replay = RunningProxy(scene.data, ["shop", "--upstream", scene.upstream.url],
                                    scene.confdir, "replay")
        scene.proxies.append(scene.replay)
    return scene.replay


def example_of_entry(data: Path, entry_id: int):
    collection = CollectionStore(data).load("shop")
    return next(e for e in collection.examples if e.source_entry == entry_id)


# -- in the browser ------------------------------------------------------------------------


def test_history_filters_search_and_entry_detail(scene, browser):
    base = scene.ui.base
    browser.get(f"{base}/history")
    assert len(urls(browser)) == 6
    assert urls(browser)[-1] == scene.upstream.url + "/users/1"  # newest first
    # The filters are the command line's: a glob on the path, a status class, a date.
    css(browser, "input[name=path]").send_keys("/users/*")
    submit(browser, "form.filters button[type=submit]")
    assert urls(browser) == [scene.upstream.url + "/users/2", scene.upstream.url + "/users/1"]
    browser.get(f"{base}/history?status=2xx&method=post")
    assert urls(browser) == [scene.upstream.url + "/echo"] * 2
    browser.get(f"{base}/history?since=yesterday")
    assert "'yesterday' is not a date" in css(browser, "#error").text
    # Search looks into headers and bodies, as `history search` does.
    browser.get(f"{base}/history")
    css(browser, "input[name=q]").send_keys("UI-TEST-42")
    submit(browser, "form.filters button[type=submit]")
    assert urls(browser) == [scene.upstream.url + "/users/2"]

    # An image is shown as one.
    browser.get(f"{base}/history")
    follow(browser, next(a for a in css_all(browser, "#entries td.url a")
                         if a.text.endswith("/png")))
    wait_for(browser, lambda: browser.execute_script(
        "const i = document.querySelector('img.preview'); return i && i.complete"))
    assert browser.execute_script("return document.querySelector('img.preview').naturalWidth") \
        == 16
    # Compressed bodies are shown decoded; JSON is indented.
    ids = {}
    for entry in HistoryStore(scene.data).entries(newest_first=False):
        ids.setdefault(entry.request.path, []).append(entry.id)
    browser.get(f"{base}/history/{ids['/gzip'][0]}")
    assert TEXT.decode()[:40] in css(browser, "pre.body.text").text
    assert "of gzip" in browser.page_source
    browser.get(f"{base}/history/{ids['/echo'][0]}")
    shown = css_all(browser, "pre.body.json")
    assert any('\n  "method": "POST",' in pre.get_attribute("textContent") for pre in shown)
    assert any('"order": 1' in pre.get_attribute("textContent") for pre in shown)
    # A large body is not sent whole: the start, and a link to all of it.
    browser.get(f"{base}/history/{ids['/echo'][1]}")
    assert len(BIG_JSON) > 350_000
    assert len(browser.page_source) < 150_000
    note = css(browser, "p.truncated")
    raw_url = note.find_element("css selector", "a").get_attribute("href")
    with scene.ui.client() as client:
        raw = client.get(raw_url)
    assert raw.status_code == 200 and raw.content == BIG_JSON.encode()
    assert raw.headers["content-security-policy"].startswith("sandbox")


def test_mock_request_two_rows_into_a_new_collection(scene, browser):
    mock_request_shop(scene, browser)
    assert "created collection shop" in flash(browser)
    assert "2 examples, 1 new request" in flash(browser)
    assert "inferred template /users/{{userId}}" in flash(browser)
    rows = css_all(browser, "#examples tbody tr")
    assert len(rows) == 2
    assert rows[0].find_element("css selector", "td.url").text.endswith("/users/{{userId}}")
    # What the command line's promote writes: one request, an example per entry.
    collection = CollectionStore(scene.data).load("shop")
    # (recorded through a reverse proxy: its upstream is the collection's baseUrl)
    assert [r.url for r in collection.requests] == ["{{baseUrl}}/users/{{userId}}"]
    assert collection.variables["baseUrl"] == scene.upstream.url
    assert sorted(e.source_entry for e in collection.examples) == [1, 2]
    assert [e.request.headers for e in collection.examples if e.source_entry == 2][0]


def test_edit_an_example_and_a_running_replay_serves_it(scene, browser):
    mock_request_shop(scene, browser)
    proxy = replay_proxy(scene)
    before = httpx.get(proxy.url + "/users/1")
    assert before.status_code == 200 and before.json()["path"] == "/users/1"
    example = example_of_entry(scene.data, 1)
    browser.get(f"{scene.ui.base}/collections/shop")
    follow(browser, css(browser, f"tr[data-example='{example.id}'] a"))
    assert browser.current_url.endswith(f"/examples/{example.id}")
    file_before = CollectionStore(scene.data).path("shop").read_bytes()

    # Checked as `example edit` checks: a bad status is refused and nothing is written.
    status = css(browser, "#status-field")
    status.clear()
    status.send_keys("abc")
    submit(browser, "#save")
    assert css(browser, "#error").text == (
        "your edit was refused: status 'abc' is not an HTTP status (100-599); "
        f"example {example.id} is unchanged")
    assert CollectionStore(scene.data).path("shop").read_bytes() == file_before
    headers = css(browser, "#headers-field")
    headers.send_keys("\nbroken header line")
    status = css(browser, "#status-field")
    status.clear()
    status.send_keys("201")
    submit(browser, "#save")
    assert "'broken header line' is not a 'Name: value' line" in css(browser, "#error").text
    assert CollectionStore(scene.data).path("shop").read_bytes() == file_before

    browser.get(browser.current_url)  # start over from what is stored
    body = css(browser, "#body-field")
    body.clear()
    body.send_keys('{"id": 1, "name": "edited in the browser"}')
    status = css(browser, "#status-field")
    status.clear()
    status.send_keys("201")
    submit(browser, "#save")
    assert f"saved example {example.id} in shop" in flash(browser)
    saved = example_of_entry(scene.data, 1)
    assert saved.response.status == 201 and saved.response.reason == "Created"
    assert saved.response.body == b'{"id": 1, "name": "edited in the browser"}'
    # The running replay answers from the edit on its next request.
    after = httpx.get(proxy.url + "/users/1")
    assert after.status_code == 201
    assert after.json() == {"id": 1, "name": "edited in the browser"}


def test_add_an_example_by_hand_and_delete_it(scene, browser):
    mock_request_shop(scene, browser)
    proxy = replay_proxy(scene)
    assert httpx.post(proxy.url + "/orders").status_code == 404
    browser.get(f"{scene.ui.base}/collections/shop")
    css(browser, "details.add summary").click()
    form = css(browser, "#add-example")
    for name, value in (("method", "POST"), ("path", "/orders"), ("status", "201"),
                        ("headers", "X-Made: by hand"), ("body", '{"order": "new"}')):
        field = form.find_element("css selector", f"[name={name}]")
        field.clear()
        field.send_keys(value)
    submit(browser, "#add-example button[type=submit]")
    assert "added example" in flash(browser) and "to shop" in flash(browser)
    made = httpx.post(proxy.url + "/orders")  # served by the running replay at once
    assert made.status_code == 201 and made.json() == {"order": "new"}
    assert made.headers["x-made"] == "by hand"

    # Deleting asks first, then the example (and its request, now empty) are gone.
    follow(browser, css(browser, "form.danger-zone button"), confirm=True)
    assert "deleted example" in flash(browser)
    assert browser.current_url == f"{scene.ui.base}/collections/shop"
    assert [r.method for r in CollectionStore(scene.data).load("shop").requests] == ["GET"]
    assert httpx.post(proxy.url + "/orders").status_code == 404


def test_live_call_log_and_why_a_404_matched_nothing(scene, browser):
    mock_request_shop(scene, browser)
    proxy = replay_proxy(scene)
    assert httpx.get(proxy.url + "/users/2").status_code in (200, 201)
    browser.get(f"{scene.ui.base}/calls/shop")
    wait_for(browser, lambda: css(browser, "#live").is_displayed()
             and css(browser, "#live").text == "live")
    # The call just made is listed, or arrives (the call log is written within ~0.2 s).
    wait_for(browser, lambda: paths(browser)[:1] == ["/users/2"])
    seen = paths(browser)
    browser.execute_script("window.sameDocument = true")
    # Calls made now appear at the top, without a reload.
    assert httpx.get(proxy.url + "/users/7").status_code in (200, 201)
    assert httpx.get(proxy.url + "/nothing/here?x=1").status_code == 404
    wait_for(browser, lambda: len(paths(browser)) == len(seen) + 2)
    assert paths(browser) == ["/nothing/here?x=1", "/users/7", *seen]
    assert browser.execute_script("return window.sameDocument") is True
    first = css(browser, "#calls tbody tr")
    assert first.find_element("css selector", "td.status").text == "404"
    assert first.find_element("css selector", "td.matched").text == (
        "No matching requests: no example matches GET /nothing/here")  # and why

    # Search, as `calls --search`.
    search = css(browser, "input[name=q]")
    search.send_keys("nothing")
    submit(browser, "form.filters button[type=submit]")
    assert paths(browser) == ["/nothing/here?x=1"]

    # The 404's detail says why nothing matched: the closest examples and where they failed.
    follow(browser, css(browser, "#calls tbody td.url a"))
    why = css(browser, "#why")
    assert "Why nothing matched" in why.text
    details = why.find_elements("css selector", "table.details tbody tr")
    assert details and "path" in details[0].text.lower()
    assert css(browser, "#matched").text.startswith("No matching requests: ")


def test_switch_a_running_proxy_to_spy(scene, browser):
    from selenium.webdriver.support.select import Select

    mock_request_shop(scene, browser)
    proxy = replay_proxy(scene)
    port = int(proxy.url.rsplit(":", 1)[1])
    browser.get(f"{scene.ui.base}/mocks")
    row = css(browser, f"#proxies tr[data-port='{port}']")
    assert row.find_element("css selector", "td.mode").text == "replay"
    Select(row.find_element("css selector", "select[name=mode]")).select_by_visible_text("spy")
    submit(browser, f"#proxies tr[data-port='{port}'] button[type=submit]")
    assert f"proxy on port {port} now in spy mode" in flash(browser)
    row = css(browser, f"#proxies tr[data-port='{port}']")
    assert row.find_element("css selector", "td.mode").text == "spy"
    assert remote.status(scene.data, port)["mode"] == "spy"
    # Spy: what no example answers goes to the upstream and into the history.
    answer = httpx.get(proxy.url + "/spy-only?x=1")
    assert answer.status_code == 200 and answer.json()["path"] == "/spy-only"
    entries = wait_for_entries(HistoryStore(scene.data), 7)
    assert entries[-1].request.url.endswith("/spy-only?x=1") and entries[-1].mode == "spy"


def test_mock_request_one_entry_into_an_existing_collection(scene, browser):
    from selenium.webdriver.support.select import Select

    mock_request_shop(scene, browser)
    proxy = replay_proxy(scene)
    png = next(e.id for e in HistoryStore(scene.data).entries() if e.request.path == "/png")
    browser.get(f"{scene.ui.base}/history/{png}")
    css(browser, "#promote-one summary").click()
    Select(css(browser, "#promote-one select[name=collection]")).select_by_visible_text("shop")
    assert not css(browser, "#promote-one [data-new-name]").is_displayed()
    submit(browser, "#promote-one [data-promote]")
    assert flash(browser).startswith("updated collection shop (")
    assert "): 1 example, 1 new request" in flash(browser)
    (example,) = [e for e in CollectionStore(scene.data).load("shop").examples
                  if e.source_entry == png]
    assert example.response.body == PNG
    served = httpx.get(proxy.url + "/png")  # whatever the mode, an example answers
    assert served.content == PNG and served.headers["content-type"] == "image/png"


def test_pages_fit_1280_and_400_wide_and_load_nothing_from_elsewhere(scene, browser, tmp_path):
    mock_request_shop(scene, browser)
    replay_proxy(scene)
    base = scene.ui.base
    example = example_of_entry(scene.data, 2)
    pages = ["/history", "/history/3", "/history/6", "/collections", "/collections/shop",
             f"/collections/shop/examples/{example.id}", "/mocks", "/calls/shop"]
    try:
        for width in (1280, 400):
            browser.set_window_size(width, 800)
            for page in pages:
                browser.get(base + page)
                assert css(browser, "h1").is_displayed()
                overflow = browser.execute_script(
                    "return [document.documentElement.scrollWidth, window.innerWidth]")
                assert overflow[0] <= overflow[1], (page, width, overflow)
                loaded = browser.execute_script(
                    "return performance.getEntriesByType('resource').map(r => r.name)")
                assert all(url.startswith(base + "/") for url in loaded), loaded
    finally:
        browser.set_window_size(1280, 800)
    # For the README.
    shots = SCREENSHOTS if os.environ.get("MOCKREC_SCREENSHOTS") else tmp_path / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    browser.set_window_size(1280, 720)
    browser.get(f"{base}/history")
    for box in css_all(browser, "#entries input[name=id]")[-2:]:
        box.click()  # the two users, as before Mock Request
    browser.save_screenshot(str(shots / "history.png"))
    browser.get(f"{base}/calls/shop")
    wait_for(browser, lambda: css(browser, "#live").is_displayed())
    browser.save_screenshot(str(shots / "call-log.png"))
    browser.set_window_size(1280, 800)


# -- token and Host, over plain HTTP ---------------------------------------------------------


@pytest.fixture(scope="module")
def bare_ui(tmp_path_factory):
    ui = RunningUi(tmp_path_factory.mktemp("ui-bare") / "data")
    yield ui
    ui.stop()


def test_requests_without_the_token_are_refused(bare_ui):
    with httpx.Client(base_url=bare_ui.base) as client:
        for path in ("/", "/history", "/collections", "/mocks", "/calls/x/events",
                     "/static/ui.js", "/history/1/body/response", "/no/such/page"):
            answer = client.get(path)
            assert answer.status_code == 403, path
            assert "token" in answer.text
        assert client.get("/history?token=not-the-token").status_code == 403
        assert client.get("/history", headers={"Cookie": f"mockrec_ui_{bare_ui.port}=nope"}) \
            .status_code == 403
        assert client.get("/history", headers={"X-Mockrec-Token": "nope"}).status_code == 403


def test_the_printed_url_sets_a_cookie_and_drops_the_token_from_the_address(bare_ui):
    with httpx.Client(base_url=bare_ui.base) as client:
        first = client.get(f"/history?path=/a&token={bare_ui.token}")
        assert first.status_code == 302 and first.headers["location"] == "/history?path=%2Fa"
        cookie = first.headers["set-cookie"]
        assert cookie.startswith(f"mockrec_ui_{bare_ui.port}={bare_ui.token};")
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        page = client.get("/history")  # the cookie, as a browser keeps it
        assert page.status_code == 200
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
    answer = httpx.get(bare_ui.base + "/history", headers={"X-Mockrec-Token": bare_ui.token})
    assert answer.status_code == 200


@pytest.mark.parametrize("host, allowed", [
    ("127.0.0.1:{port}", True), ("localhost:{port}", True), ("[::1]:{port}", True),
    ("LOCALHOST", True),
    ("evil.example", False), ("evil.example:{port}", False), ("127.0.0.1.evil.example", False),
    ("localhost.evil.example:{port}", False), ("[::1].evil:{port}", False), ("", False),
])
def test_the_host_header_must_name_this_server(bare_ui, host, allowed):
    """DNS rebinding: a name the attacker controls resolving to 127.0.0.1 gets nothing,
    even with the token (a rebinding page could have it from a leaked link)."""
    with socket.create_connection(("127.0.0.1", bare_ui.port), timeout=10) as sock:
        host_line = f"Host: {host.format(port=bare_ui.port)}\r\n" if host else ""
        sock.sendall(f"GET /history HTTP/1.0\r\n{host_line}X-Mockrec-Token: {bare_ui.token}"
                     "\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    assert status == (200 if allowed else 403), answer[:300]


def test_state_changes_need_the_token_itself_and_post(bare_ui):
    store = CollectionStore(bare_ui.log.parent / "data")
    with bare_ui.client() as client:  # holds the cookie, as a browser tricked by a site would
        refused = client.post("/collections", data={"name": "from-elsewhere"})
        assert refused.status_code == 403 and not store.exists("from-elsewhere")
        wrong = client.post("/collections", data={"name": "from-elsewhere", "_token": "x"})
        assert wrong.status_code == 403 and not store.exists("from-elsewhere")
        done = client.post("/collections", data={"name": "mine", "_token": bare_ui.token})
        assert done.status_code == 303 and store.exists("mine")
        by_header = client.post("/collections", data={"name": "mine2"},
                                headers={"X-Mockrec-Token": bare_ui.token})
        assert by_header.status_code == 303 and store.exists("mine2")
        # A GET never changes anything, with or without the token.
        assert client.get("/collections/mine/delete").status_code == 405
        assert client.get(f"/collections?name=viaget&_token={bare_ui.token}").status_code == 200
        assert store.exists("mine") and not store.exists("viaget")
        assert client.request("PATCH", "/collections",
                              headers={"X-Mockrec-Token": bare_ui.token}).status_code == 405
        assert client.post("/collections/mine/delete", data={"_token": bare_ui.token}) \
            .status_code == 303
        assert not store.exists("mine")


def test_names_and_headers_read_as_written(scene, browser):
    """Issue 28's UI mismatches: the proxies table names the mock each proxy serves;
    a header name breaks at its hyphens, never mid-word; the headers mockrec adds to its
    own answers are Title-Case like the others."""
    from recorder.cli import main

    mock_request_shop(scene, browser)
    assert main(["--data-dir", str(scene.data), "mock", "create", "shop-ui", "--collection",
                 "shop", "--port", "0"]) == 0
    named = RunningProxy(scene.data, ["shop-ui"], scene.confdir, "replay")
    scene.proxies.append(named)
    port = int(named.url.rsplit(":", 1)[1])
    missed = httpx.get(named.url + "/nothing/here", headers={"Origin": "http://page.test"})
    assert missed.status_code == 404
    wait_for_entries(HistoryStore(scene.data, "calls/shop-ui"), 1)
    browser.get(f"{scene.ui.base}/mocks")
    row = css(browser, f"#proxies tr[data-port='{port}']")
    assert "shop-ui" in [td.text for td in row.find_elements("css selector", "td")]
    # the 404's detail: mockrec's own headers, as the client got them
    browser.get(f"{scene.ui.base}/calls/shop-ui")
    follow(browser, css(browser, "#calls tbody td.url a"))
    names = [th.text for th in css_all(browser, "table.headers th")]
    assert "Content-Length" in names and "content-length" not in names, names
    assert all(n[:1].isupper() for n in names if n.lower().startswith(("content", "vary"))), names
    th = css_all(browser, "table.headers th")[0]
    assert th.value_of_css_property("word-break") == "normal"
    assert th.value_of_css_property("overflow-wrap") == "normal"


def test_a_streamed_entry_shows_its_events_with_their_offsets(tmp_path):
    from recorder.models import HistoryEntry, HttpRequest, HttpResponse, Timings
    from recorder.store.history import HistoryStore
    from recorder.streams import Stream

    data = tmp_path / "data"
    body, stream = Stream.of_pieces([(0, b'data: {"t": "Hel"}\n\n'), (310, b"data: [DONE]\n\n")],
                                    cut=True)
    HistoryStore(data).append([HistoryEntry(
        HttpRequest("POST", "http://llm.test/v1/chat"), Timings(time.time()),
        HttpResponse(200, "OK", headers=[("Content-Type", "text/event-stream")], body=body,
                     stream=stream))])
    ui = RunningUi(data)
    try:
        with ui.client() as client:
            page = client.get("/history/1").text
    finally:
        ui.stop()
    assert "Streamed: 2 parts, cut (it did not end)" in page
    assert re.search(r'<td class="num">310</td><td class="mono">data: \[DONE\]', page), page
