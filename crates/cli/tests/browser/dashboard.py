"""Drives the dashboard in Debian's Chromium, as a person would: signs in, finds a function and
its invocation with its duration, watches a log line arrive live, and replays a dead letter.

    python3 dashboard.py URL TOKEN SCREENSHOT_DIR

The server has `hello` (invoked once) and `panic` (one dead letter) deployed. Exits non-zero,
saying what was missing, when the page does not show what it should.
"""

import sys
import tempfile
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as shown
from selenium.webdriver.support.ui import WebDriverWait

url, token, screenshots = sys.argv[1], sys.argv[2], Path(sys.argv[3])
screenshots.mkdir(parents=True, exist_ok=True)


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    # The machine has no internet: Chromium's own background connections would only fail.
    for flag in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                 f"--user-data-dir={tempfile.mkdtemp()}"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait_for(driver, css: str, what: str, timeout: float = 15):
    try:
        return WebDriverWait(driver, timeout).until(
            shown.visibility_of_element_located((By.CSS_SELECTOR, css)))
    except Exception:
        sys.exit(f"the dashboard never showed {what} ({css}); the page said: "
                 f"{driver.find_element(By.TAG_NAME, 'body').text[:500]}")


def wait_for_text(driver, css: str, text: str, what: str, timeout: float = 15):
    try:
        WebDriverWait(driver, timeout).until(
            shown.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
    except Exception:
        sys.exit(f"the dashboard never showed {what}: `{text}` in {css}")


def page(driver, path: str, name: str, ready: str):
    driver.get(f"{url}/ui/#/{path}")
    wait_for(driver, ready, f"the {name} page")
    driver.save_screenshot(str(screenshots / f"{name}.png"))


driver = browser()
try:
    driver.get(f"{url}/ui/")
    wait_for(driver, "#token", "the sign-in form").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#sign-in button").click()
    page(driver, "", "functions", "#functions tr[data-name=hello]")

    page(driver, "fn/hello", "function", "#invocations tbody tr")
    duration = driver.find_element(By.CSS_SELECTOR, "#invocations tbody tr .duration").text
    if not duration.endswith(" ms"):
        sys.exit(f"the invocation's duration is `{duration}`")

    page(driver, "logs/hello", "logs", "#log")
    wait_for_text(driver, "#log", "greeting", "the log lines written before")
    # A new invocation while the page follows: its line must arrive without a reload.
    urllib.request.urlopen(f"{url}/fn/hello?name=live-line-7", timeout=10).read()
    wait_for_text(driver, "#log", "greeting live-line-7", "a log line written while following")
    driver.save_screenshot(str(screenshots / "logs.png"))

    page(driver, "async/panic", "async", "#dead tbody tr .replay")
    driver.find_element(By.CSS_SELECTOR, "#dead tbody tr .replay").click()
    wait_for_text(driver, "#message", "Requeued 1.", "the replay's answer")
    driver.save_screenshot(str(screenshots / "async.png"))

    page(driver, "usage", "usage", "#usage tbody tr")
    page(driver, "sources", "sources", "#sources tbody tr")
finally:
    driver.quit()
print("dashboard: every page shown and used")
