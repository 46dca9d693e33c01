"""What the console tests do in Chromium: wait, read the page, sign in, click, check accessibility."""


def screenshot(driver, folder, name):
    """Keeps the page as `folder/name.png` (the run's artifacts: look at them)."""
    folder.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(folder / f"{name}.png"))


def wait_for(driver, condition, timeout=20):
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout, ignored_exceptions=(WebDriverException,)).until(condition)


def main_text(driver):
    from selenium.webdriver.common.by import By
    return driver.find_element(By.ID, "app").text


def wait_text(driver, text, timeout=20):
    wait_for(driver, lambda d: text in main_text(d), timeout)


def sign_in(driver, username, password):
    from selenium.webdriver.common.by import By
    wait_for(driver, lambda d: d.find_elements(By.ID, "username"))
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def click_link(driver, text):
    from selenium.webdriver.common.by import By
    wait_for(driver, lambda d: d.find_elements(By.LINK_TEXT, text))
    driver.find_element(By.LINK_TEXT, text).click()


def click_button(driver, text, within="app"):
    from selenium.webdriver.common.by import By
    wait_for(driver, lambda d: [b for b in d.find_element(By.ID, within).find_elements(By.TAG_NAME, "button") if b.text == text])
    next(b for b in driver.find_element(By.ID, within).find_elements(By.TAG_NAME, "button") if b.text == text).click()


def no_serious_violations(driver):
    from axe_selenium_python import Axe
    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    serious = [(v["id"], v["help"], [n.get("html") for n in v.get("nodes", [])][:3]) for v in results["violations"] if v.get("impact") in ("serious", "critical")]
    assert not serious, serious


def banner(driver):
    """What the page last said (an action done, or what went wrong)."""
    from selenium.webdriver.common.by import By
    return driver.find_element(By.ID, "banner").text


def choose(driver, name, text):
    """Picks `text` in the select `name`: opening it first, since its options load when it is opened."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    selector = f"select[name={name}]"
    driver.find_element(By.CSS_SELECTOR, selector).click()
    wait_for(driver, lambda d: [o for o in d.find_elements(By.CSS_SELECTOR, f"{selector} option") if o.text == text])
    Select(driver.find_element(By.CSS_SELECTOR, selector)).select_by_visible_text(text)
