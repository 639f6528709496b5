"""The HTML page: self-contained, safe with any name, and working in a real headless browser."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from conftest import SAMPLES, SNIPPETS
from helpers import graph_of

from gradviz.renderers.base import RenderOptions
from gradviz.renderers.html import HtmlRenderer

pytestmark = pytest.mark.dot

HOSTILE = "</script><img src=x onerror=alert(1)>"


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.tags: list[str] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "script":
            self._open = dict(attrs)

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.scripts.append((self._open, data))
            self._open = None


def page(path: Path) -> str:
    return HtmlRenderer(options=RenderOptions()).render(graph_of(path))


def test_page_is_self_contained_and_carries_every_node() -> None:
    text = page(SAMPLES / "autograd_basics.py")
    assert not re.search(r"(src|href)=\"(https?:)?//", text)  # nothing fetched from anywhere
    parser = _Scripts()
    parser.feed(text)
    (data_attrs, data), (_, code) = parser.scripts
    assert data_attrs == {"type": "application/json", "id": "gradviz-data"}
    nodes = json.loads(data)["nodes"]
    assert len(nodes) == 6 and "addEventListener" in code
    a = next(n for n in nodes.values() if n["title"] == "a")
    assert ["value", "1×2 float32 cpu\n[[2., 3.]]"] in a["rows"]
    assert ["grad", "1×2 float32 cpu\n[[1., 2.]]"] in a["rows"]


def test_details_name_the_module_an_op_ran_in_with_its_class() -> None:
    text = page(SAMPLES / "mlp_step.py")
    parser = _Scripts()
    parser.feed(text)
    nodes = json.loads(parser.scripts[0][1])["nodes"]
    relu = next(n for n in nodes.values() if ["op", "relu"] in n["rows"])
    assert ["module", "model.1: ReLU"] in relu["rows"]
    loss_op = next(n for n in nodes.values() if ["op", "mse_loss"] in n["rows"])
    assert not any(row[0] == "module" for row in loss_op["rows"])  # the snippet's own call


def test_details_list_an_ops_inputs_without_grad() -> None:
    """mse_loss's target y has no node: the op's details name it, with its numbers
    where the op saved none of its own."""
    text = page(SAMPLES / "mlp_step.py")
    parser = _Scripts()
    parser.feed(text)
    nodes = json.loads(parser.scripts[0][1])["nodes"]
    loss_op = next(n for n in nodes.values() if ["op", "mse_loss"] in n["rows"])
    assert ["input 1, no grad", "y"] in loss_op["rows"]
    target = next(row for row in loss_op["rows"] if row[0] == "saved target")
    assert target[1].startswith("y: 5×1 float32 cpu")


def test_hostile_names_stay_text() -> None:
    text = page(SNIPPETS / "hostile_names.py")
    parser = _Scripts()
    parser.feed(text)
    assert "img" not in parser.tags  # the name did not become an element
    assert len(parser.scripts) == 2  # and did not end or add a script
    data = json.loads(parser.scripts[0][1])
    titles = {n["title"] for n in data["nodes"].values()}
    assert HOSTILE in titles and 'a & b "quoted" {braces} \\back' in titles


# -- in a real browser --------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("Debian's chromium and chromium-driver are not installed (make test does)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(driver), options=options)
    yield drv
    drv.quit()


def open_page(browser: Any, tmp_path: Path, snippet: Path) -> Any:
    out = tmp_path / "graph.html"
    out.write_text(page(snippet), encoding="utf-8")
    browser.get(out.as_uri())
    return browser


def test_page_loads_without_errors_and_a_click_shows_the_details(
    browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    open_page(browser, tmp_path, SAMPLES / "autograd_basics.py")
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    nodes = browser.find_elements(By.CSS_SELECTOR, "#canvas g.node")
    assert len(nodes) == 6
    a = next(
        n
        for n in nodes
        if n.find_element(By.TAG_NAME, "title").get_attribute("textContent")
        == f"n{graph_of(SAMPLES / 'autograd_basics.py').by_name('a').id}"
    )
    a.click()
    details = browser.find_element(By.ID, "details").text
    assert details.startswith("a\n")
    assert "[[2., 3.]]" in details and "[[1., 2.]]" in details
    assert "AccumulateGrad" in details
    assert "selected" in a.get_attribute("class")


def test_page_pans_and_zooms(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
    from selenium.webdriver.common.by import By

    open_page(browser, tmp_path, SAMPLES / "mlp_step.py")
    svg = browser.find_element(By.CSS_SELECTOR, "#canvas svg")
    width = browser.execute_script("return arguments[0].viewBox.baseVal.width", svg)
    ActionChains(browser).scroll_from_origin(ScrollOrigin.from_element(svg), 0, 300).perform()
    zoomed = browser.execute_script("return arguments[0].viewBox.baseVal.width", svg)
    assert zoomed > width  # scrolling down zooms out
    x = browser.execute_script("return arguments[0].viewBox.baseVal.x", svg)
    ActionChains(browser).move_to_element(svg).click_and_hold().move_by_offset(
        80, 0
    ).release().perform()
    assert browser.execute_script("return arguments[0].viewBox.baseVal.x", svg) < x


def test_hostile_names_run_no_script(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    open_page(browser, tmp_path, SNIPPETS / "hostile_names.py")
    assert browser.execute_script("return document.querySelectorAll('img').length") == 0
    node = next(
        n
        for n in browser.find_elements(By.CSS_SELECTOR, "#canvas g.node")
        if HOSTILE in n.get_attribute("textContent")
    )
    node.click()
    assert browser.find_element(By.CSS_SELECTOR, "#details h2").text == HOSTILE
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
