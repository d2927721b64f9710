#!/usr/bin/python3
"""The Updates page in a real Chromium (Selenium): the operator's clicks, checked against what the
CLI then reports. usage: browser_test.py AIRLOCK_BINARY SOURCE_DIR [SCREENSHOT.png]
Exits 77 (skipped) when Chromium, its driver or Selenium is missing."""
import datetime
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import uitest  # noqa: E402

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    sys.exit(77)
if not (os.path.exists("/usr/bin/chromium") and os.path.exists("/usr/bin/chromedriver")):
    sys.exit(77)

E = None
D = None
PROFILE = None
SHOT = sys.argv[3] if len(sys.argv) > 3 else None


def setUpModule():
    global E, D, PROFILE
    E = uitest.Env(sys.argv[1], sys.argv[2])
    E.build("demo-1.1.0", "manifests/example")
    E.build("demo-1.2.0", "manifests/example-1.2.0")
    E.build("demo-1.3.0", "manifests/example-1.2.0",
            {r'^version = "1.2.0"': 'version = "1.3.0"', r'^summary = .*': 'summary = "Security fix"\ncritical = true'})
    E.build("demo-1.2.1-breaking", "manifests/example",
            {r'^version = .*': 'version = "1.2.1"', r'^breaking = false': 'breaking = true'})
    E.make_site()
    E.start()
    PROFILE = tempfile.mkdtemp(prefix="airlock-ui-chromium-")
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
              "--window-size=1100,1800", "--lang=en-US", "--user-data-dir=" + PROFILE]:
        o.add_argument(a)
    D = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    D.set_page_load_timeout(60)


def tearDownModule():
    if D:
        D.quit()
    shutil.rmtree(PROFILE, ignore_errors=True)
    E.cleanup()


def url(path="/"):
    return f"http://127.0.0.1:{E.port}{path}"


def wait(cond, timeout=120):
    # A click that submits a form reloads the page: an element found just before is then stale.
    return WebDriverWait(D, timeout, ignored_exceptions=[StaleElementReferenceException,
                                                         NoSuchElementException]).until(cond)


def offer(version):
    return D.find_element(By.CSS_SELECTOR, f'article.offer[data-version="{version}"]')


def flash():
    return D.find_element(By.ID, "flash").text


def set_value(el, value):
    D.execute_script("arguments[0].value = arguments[1];", el, value)


def upload(path):
    D.find_element(By.ID, "bundle-file").send_keys(path)
    D.find_element(By.ID, "upload").click()
    result = wait(lambda d: d.find_element(By.CSS_SELECTOR, "#upload-result[data-done]"))
    return result.get_attribute("data-done"), result.text


def review_plan(version):
    """Review the plan of an offer: the plan view lists what `apply --dry-run` would do."""
    D.get(url())
    offer(version).find_element(By.CSS_SELECTOR, "button.review-plan").click()
    return wait(lambda d: d.find_element(By.CSS_SELECTOR, f'#plan[data-version="{version}"]'))


def wait_for_apply():
    """After Upgrade now: the progress section polls until the outcome, then reloads the page."""
    wait(lambda d: d.find_elements(By.CSS_SELECTOR, '#progress[data-running="0"]'), 300)


class UpdatesPageInBrowser(unittest.TestCase):
    def test_1_login(self):
        D.get(url())
        self.assertIn("/login", D.current_url)
        D.find_element(By.ID, "password").send_keys(uitest.PASSWORD)
        D.find_element(By.ID, "login-button").click()
        wait(EC.presence_of_element_located((By.ID, "current")))
        self.assertIn("none", D.find_element(By.ID, "installed").text)

    def test_2_sideload_valid_bundle(self):
        state, text = upload(E.bundles["demo-1.1.0"])
        self.assertEqual(state, "accepted", text)
        wait(lambda d: d.find_elements(By.CSS_SELECTOR, 'article.offer[data-version="1.1.0"]'))
        self.assertIn("demo-1.1.0.tar.zst", os.listdir(E.inbox()))

    def test_3_sideload_tampered_bundle_is_refused(self):
        data = bytearray(open(E.bundles["demo-1.2.0"], "rb").read())
        data[len(data) // 2] ^= 0x40
        bad = os.path.join(E.dir, "tampered-1.2.0.tar.zst")
        open(bad, "wb").write(data)
        D.get(url())
        before = sorted(os.listdir(E.inbox()))
        state, text = upload(bad)
        self.assertEqual(state, "refused", text)
        self.assertIn("refused", text)
        self.assertEqual(sorted(os.listdir(E.inbox())), before)
        self.assertEqual(os.listdir(os.path.join(E.inbox(), ".upload")), [])

    def test_3b_breaking_release_needs_the_notes_read(self):
        shutil.copy(E.bundles["demo-1.2.1-breaking"], E.inbox())
        plan = review_plan("1.2.1")
        delta = plan.find_element(By.CSS_SELECTOR, '#plan-config li[data-target="topology"]')
        self.assertIn("breaking", delta.get_attribute("class"))
        self.assertIn("BREAKING", delta.text)
        self.assertEqual(len(plan.find_elements(By.CSS_SELECTOR, "#plan-blockers li")), 1, plan.text)
        box = plan.find_element(By.ID, "accept-breaking")
        self.assertEqual(box.get_attribute("value"), "1.2.1")
        self.assertTrue(box.get_attribute("required"))
        plan.find_element(By.CSS_SELECTOR, "button.upgrade-now").click()  # unchecked: the browser holds it
        time.sleep(1)
        self.assertTrue(D.find_elements(By.ID, "accept-breaking"))
        self.assertFalse(E.json("status")["installed"])
        os.remove(os.path.join(E.inbox(), os.path.basename(E.bundles["demo-1.2.1-breaking"])))

    def test_4_upgrade_now_good_release_is_healthy(self):
        plan = review_plan("1.1.0")
        migs = [li.get_attribute("data-id") for li in plan.find_elements(By.CSS_SELECTOR, "#plan-migrations li")]
        self.assertEqual(migs, ["0001_create_items", "0002_add_price"])
        self.assertIn("reversible", plan.find_element(By.ID, "plan-migrations").text)
        delta = plan.find_element(By.CSS_SELECTOR, '#plan-config li[data-target="topology"]')
        self.assertNotIn("breaking", delta.get_attribute("class"))
        self.assertTrue(plan.find_elements(By.CSS_SELECTOR, "#plan-preflight li"))
        self.assertTrue(plan.find_elements(By.CSS_SELECTOR, "#plan-checks li"))
        self.assertEqual(plan.get_attribute("data-would-apply"), "1")
        self.assertFalse(plan.find_elements(By.ID, "accept-breaking"))
        if SHOT:
            D.save_screenshot(SHOT[:-4] + "-plan.png")
        self.assertEqual(E.json("history")["history"], [], "the plan changed nothing")
        plan.find_element(By.CSS_SELECTOR, "button.upgrade-now").click()
        wait_for_apply()
        D.get(url())
        self.assertEqual(D.find_element(By.ID, "installed").text, "v1.1.0")
        row = D.find_elements(By.CSS_SELECTOR, "tr.history-row")[0]
        self.assertEqual(row.get_attribute("data-outcome"), "applied")
        self.assertIn("via page", row.text)
        self.assertEqual(E.json("status")["installed"], "1.1.0")

    def test_5_upgrade_now_failing_release_rolls_back_with_reason(self):
        shutil.copy(E.bundles["demo-1.2.0"], E.inbox())
        plan = review_plan("1.2.0")
        mig = plan.find_element(By.CSS_SELECTOR, '#plan-migrations li[data-id="0003_rename_items"]')
        self.assertIn("main", mig.text)
        plan.find_element(By.CSS_SELECTOR, "button.upgrade-now").click()
        wait_for_apply()
        D.get(url())
        row = D.find_elements(By.CSS_SELECTOR, "tr.history-row")[0]
        self.assertEqual(row.get_attribute("data-outcome"), "rolled_back")
        self.assertIn("items", row.find_element(By.CSS_SELECTOR, ".reason").text)
        self.assertIn("reverted to v1.1.0", row.find_element(By.CSS_SELECTOR, ".reverted").text)
        self.assertEqual(E.json("status")["installed"], "1.1.0")

    def test_6_schedule_then_cli_lists_the_job(self):
        D.get(url())
        o = offer("1.2.0")
        o.find_element(By.CSS_SELECTOR, "summary.schedule-open").click()
        tomorrow = datetime.datetime.utcnow() + datetime.timedelta(days=1)
        set_value(o.find_element(By.CSS_SELECTOR, "input.schedule-date"), tomorrow.strftime("%Y-%m-%d"))
        set_value(o.find_element(By.CSS_SELECTOR, "input.schedule-time"), "02:00")
        o.find_element(By.CSS_SELECTOR, "button.confirm-schedule").click()
        wait(EC.presence_of_element_located((By.ID, "flash")))
        self.assertIn("scheduled", flash())
        jobs = E.json("schedule", "list")["jobs"]
        self.assertEqual([(j["version"], j["state"]) for j in jobs], [("1.2.0", "pending")])
        self.assertEqual(jobs[0]["at"], tomorrow.strftime("%Y-%m-%d") + "T02:00:00Z")
        self.assertIn("via page", jobs[0]["created_by"])
        E.run("schedule", "cancel", str(jobs[0]["id"]), "--site", E.site)

    def test_7_skip(self):
        D.get(url())
        offer("1.2.0").find_element(By.CSS_SELECTOR, "button.skip").click()
        wait(EC.presence_of_element_located((By.ID, "flash")))
        self.assertIn("skipped", flash())
        self.assertEqual(E.json("history")["history"][-1]["outcome"], "skipped")

    def test_8_delay_critical_release(self):
        shutil.copy(E.bundles["demo-1.3.0"], E.inbox())
        D.get(url())
        o = offer("1.3.0")
        self.assertFalse(o.find_elements(By.CSS_SELECTOR, "button.skip"), "a critical release has no Skip")
        until = (datetime.datetime.utcnow() + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
        set_value(o.find_element(By.CSS_SELECTOR, "input.delay-until"), until)
        o.find_element(By.CSS_SELECTOR, "button.delay").click()
        wait(EC.presence_of_element_located((By.ID, "flash")))
        self.assertIn("delayed until", flash())
        crit = E.json("status")["critical"]
        self.assertEqual(crit[0]["version"], "1.3.0")
        self.assertTrue(crit[0]["delayed"])
        self.assertEqual(crit[0]["deadline"], until + ":00Z")

    def test_9_channel_switch_and_language(self):
        D.get(url())
        D.find_element(By.ID, "channel-beta").click()
        D.find_element(By.ID, "save-channel").click()
        wait(EC.presence_of_element_located((By.ID, "flash")))
        self.assertEqual(E.json("channel", "show")["channel"], "beta")
        self.assertEqual(E.json("scan", E.inbox())["channel"], "beta")
        self.assertTrue(D.find_element(By.ID, "channel-beta").is_selected())
        D.find_element(By.ID, "channel-recommended").click()
        D.find_element(By.ID, "save-channel").click()
        wait(EC.presence_of_element_located((By.ID, "flash")))
        self.assertEqual(E.json("channel", "show")["channel"], "recommended")
        if SHOT:
            D.save_screenshot(SHOT)
        for lang, word in [("pt-BR", "Histórico"), ("es", "Historial"), ("en", "History")]:
            D.find_element(By.CSS_SELECTOR, f'#lang option[value="{lang}"]').click()
            D.find_element(By.ID, "lang-save").click()
            wait(lambda d: word in d.find_element(By.CSS_SELECTOR, "#history h2").text)
        self.assertEqual(E.run("audit", "verify", "--site", E.site, check=False).returncode, 0)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
