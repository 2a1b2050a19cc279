#!/usr/bin/python3
"""The Discuss inbox seen by an operator in a real browser (headless Chromium).

Needs no Odoo source: a running Odoo 16 with the sidecar migrated into its database,
the sidecar running against a Cloud API emulator (`whatsapp-sidecar emulator` or
`run --sandbox`), Debian's chromium + chromium-driver + python3-selenium.

  python3 browser_check.py --odoo http://127.0.0.1:8071 --db odoo16chat \
      --login operator --password operator --emulator http://127.0.0.1:18091 \
      --from 221771234567 --shots /tmp/discuss

It logs in as the operator, opens the customer's channel in Discuss, then:
 0. has the emulator send a message from a number never seen, and times the new
    channel's appearance in the sidebar;
 1. has the emulator send a customer's message (a signed webhook to the sidecar)
    and times its appearance in the open page, without a reload;
 1b. sends an image, a location and a reaction the same way;
 2. with --xmlrpc-author PARTNER_ID, posts through Odoo's external API instead
    (mail.channel.message_post as the admin, the customer as author) and times
    the call and its appearance, for comparison;
 3. types an answer in the channel's composer and times its arrival at the
    emulator, then waits for its delivery status to show under it;
 5. with --close-window TEMPLATE, closes the 24-hour window (over XML-RPC), waits
    for the channel to say so, checks a free-text answer is not sent and the
    channel says why, then sends /template TEMPLATE;
 4. opens the conversation in WhatsApp > Conversations (the thread, oldest first).
It prints the timings as JSON and saves screenshots.
"""
import argparse, datetime, json, os, sys, time, urllib.request, xmlrpc.client, uuid

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait


def post_json(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=10).read() or b"null")


def get_json(url):
    return json.loads(urllib.request.urlopen(url, timeout=10).read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--odoo", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--login", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--admin-password", default="admin")
    ap.add_argument("--emulator", required=True)
    ap.add_argument("--from", dest="wa_id", required=True)
    ap.add_argument("--channel", type=int, help="the customer's channel (default: found over XML-RPC)")
    ap.add_argument("--xmlrpc-author", type=int, help="partner id to post as over the external API, for comparison")
    ap.add_argument("--shots", default="/tmp/discuss-shots")
    ap.add_argument("--close-window", metavar="TEMPLATE", help="close the 24-hour window, then send this approved template")
    a = ap.parse_args()
    os.makedirs(a.shots, exist_ok=True)

    common = xmlrpc.client.ServerProxy(a.odoo + "/xmlrpc/2/common")
    admin = common.authenticate(a.db, "admin", a.admin_password, {})
    models = xmlrpc.client.ServerProxy(a.odoo + "/xmlrpc/2/object", allow_none=True)
    x = lambda model, meth, *args, **kw: models.execute_kw(a.db, admin, a.admin_password, model, meth, list(args), kw)
    channel = a.channel
    if not channel:
        conv = x("whatsapp.conversation", "search_read", [["wa_id", "=", a.wa_id]], fields=["discuss_channel_id"])
        channel = conv[0]["discuss_channel_id"][0]
    channel_name = x("mail.channel", "read", [channel], ["name"])[0]["name"]

    opts = Options()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,900", "--lang=fr-FR"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    out = {"channel": channel}
    try:
        driver.get(a.odoo + "/web/login?db=" + a.db)
        driver.find_element(By.NAME, "login").send_keys(a.login)
        driver.find_element(By.NAME, "password").send_keys(a.password + Keys.ENTER)
        WebDriverWait(driver, 60).until(lambda d: "/web" in d.current_url and "login" not in d.current_url)
        driver.get("%s/web#action=mail.action_discuss" % a.odoo)
        item = WebDriverWait(driver, 60, 0.05).until(lambda d: next((
            e for e in d.find_elements(By.CSS_SELECTOR, ".o_DiscussSidebarCategoryItem") if e.text.startswith(channel_name[:20])), None))
        item.click()
        composer = WebDriverWait(driver, 60, 0.05).until(
            lambda d: d.find_element(By.CSS_SELECTOR, ".o_ThreadView .o_ComposerTextInput_textarea"))
        time.sleep(2)  # the websocket subscribes once the page has settled
        driver.save_screenshot(os.path.join(a.shots, "1-channel-open.png"))

        # 0. a number never seen: its new channel appears in the sidebar, live
        newcomer = "22176" + str(int(time.time()) % 10000000).zfill(7)
        who = "Client " + uuid.uuid4().hex[:4]
        t0 = time.monotonic()
        post_json(a.emulator + "/_emulator/inbound", {"from": newcomer, "name": who, "type": "text", "text": "Bonjour !"})
        WebDriverWait(driver, 30, 0.02).until(lambda d: any(
            e.text.startswith(who) for e in d.find_elements(By.CSS_SELECTOR, ".o_DiscussSidebarCategoryItem")))
        out["new_channel_to_sidebar_ms"] = round((time.monotonic() - t0) * 1000)
        time.sleep(0.5)
        driver.save_screenshot(os.path.join(a.shots, "0-new-conversation.png"))

        # 1. a customer's message through the emulator's signed webhook
        text = "Bonjour, où en est ma commande ? " + uuid.uuid4().hex[:6]
        t0 = time.monotonic()
        post_json(a.emulator + "/_emulator/inbound", {"from": a.wa_id, "name": "Awa", "type": "text", "text": text})
        WebDriverWait(driver, 30, 0.01).until(lambda d: text in d.find_element(By.CSS_SELECTOR, ".o_ThreadView").text)
        out["webhook_to_page_ms"] = round((time.monotonic() - t0) * 1000)
        driver.save_screenshot(os.path.join(a.shots, "2-customer-message.png"))

        # 1b. an image with its caption, a location, a reaction
        place = "Marché Sandaga " + uuid.uuid4().hex[:6]
        for body in ({"type": "image", "caption": "La photo du colis"},
                     {"type": "location", "location": {"latitude": 14.6728, "longitude": -17.4367, "name": place, "address": "Dakar"}},
                     {"type": "reaction", "emoji": "👍"}):
            post_json(a.emulator + "/_emulator/inbound", dict(body, **{"from": a.wa_id, "name": "Awa"}))
        WebDriverWait(driver, 30, 0.02).until(lambda d: place in d.find_element(By.CSS_SELECTOR, ".o_ThreadView").text)
        time.sleep(1)
        driver.save_screenshot(os.path.join(a.shots, "2b-media.png"))

        # 2. the same through Odoo's external API, for comparison
        if a.xmlrpc_author:
            text2 = "Message par l'API externe " + uuid.uuid4().hex[:6]
            t0 = time.monotonic()
            x("mail.channel", "message_post", [channel], body=text2, author_id=a.xmlrpc_author,
              message_type="comment", subtype_xmlid="mail.mt_comment")
            out["xmlrpc_call_ms"] = round((time.monotonic() - t0) * 1000)
            WebDriverWait(driver, 30, 0.01).until(lambda d: text2 in d.find_element(By.CSS_SELECTOR, ".o_ThreadView").text)
            out["xmlrpc_to_page_ms"] = round((time.monotonic() - t0) * 1000)

        # 3. the operator answers in the channel
        answer = "Elle part demain, livraison jeudi. " + uuid.uuid4().hex[:6]
        before = len(get_json(a.emulator + "/_emulator/requests?path=/messages"))
        composer = driver.find_element(By.CSS_SELECTOR, ".o_ThreadView .o_ComposerTextInput_textarea")
        composer.send_keys(answer)
        t0 = time.monotonic()
        composer.send_keys(Keys.ENTER)
        def at_emulator(_):
            reqs = get_json(a.emulator + "/_emulator/requests?path=/messages")[before:]
            return any(answer in json.dumps(r) for r in reqs)
        WebDriverWait(driver, 30, 0.02).until(at_emulator)
        out["answer_to_emulator_ms"] = round((time.monotonic() - t0) * 1000)
        try:
            WebDriverWait(driver, 20, 0.05).until(
                lambda d: d.find_elements(By.CSS_SELECTOR, ".o_Message")[-1].find_element(
                    By.CSS_SELECTOR, ".o_TrackingValue_newValue").text in ("Lu", "Read"))
            out["answer_read_status_ms"] = round((time.monotonic() - t0) * 1000)
        except Exception:
            out["answer_read_status_ms"] = None
        driver.save_screenshot(os.path.join(a.shots, "3-operator-answer.png"))

        # 3b. the operator attaches a file (the sidecar reads Odoo's filestore: ODOO_DATA_DIR)
        doc = os.path.join(a.shots, "devis-%s.pdf" % uuid.uuid4().hex[:6])
        with open(doc, "wb") as f:
            f.write(b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
        before = len(get_json(a.emulator + "/_emulator/requests?path=/messages"))
        # Odoo's file input lives outside the page: put it in, for the driver to type the path into.
        driver.execute_script("""const click = HTMLInputElement.prototype.click;
            HTMLInputElement.prototype.click = function () {
                if (this.type !== 'file') { return click.call(this); }
                this.id = 'browser-check-file'; document.body.appendChild(this);
            };""")
        driver.find_element(By.CSS_SELECTOR, ".o_ThreadView .o_Composer_buttonAttachment").click()
        driver.find_element(By.ID, "browser-check-file").send_keys(doc)
        WebDriverWait(driver, 30, 0.05).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".o_ThreadView .o_Composer .o_AttachmentCard, .o_ThreadView .o_Composer .o_AttachmentImage")
                                              and not d.find_elements(By.CSS_SELECTOR, ".o_ThreadView .o_Composer .o_AttachmentCard_uploading, .o_ThreadView .o_Composer .fa-spinner"))
        t0 = time.monotonic()
        driver.find_element(By.CSS_SELECTOR, ".o_ThreadView .o_ComposerTextInput_textarea").send_keys(Keys.ENTER)
        def doc_at_emulator(_):
            reqs = get_json(a.emulator + "/_emulator/requests?path=/messages")[before:]
            return any(os.path.basename(doc) in json.dumps(r) for r in reqs)
        try:
            WebDriverWait(driver, 30, 0.05).until(doc_at_emulator)
            out["file_to_emulator_ms"] = round((time.monotonic() - t0) * 1000)
        except Exception:
            out["file_to_emulator_ms"] = None
        time.sleep(1)
        driver.save_screenshot(os.path.join(a.shots, "3b-operator-file.png"))

        # 5. with --close-window: the window closes (as 24 hours without a message
        # would); the channel says so and offers the templates mapped to
        # discuss_reply; free text is then not sent, /template NAME is
        if a.close_window:
            driver.get("%s/web#action=mail.action_discuss" % a.odoo)
            item = WebDriverWait(driver, 60, 0.05).until(lambda d: next((
                e for e in d.find_elements(By.CSS_SELECTOR, ".o_DiscussSidebarCategoryItem") if e.text.startswith(channel_name[:20])), None))
            item.click()
            WebDriverWait(driver, 60, 0.05).until(lambda d: d.find_element(By.CSS_SELECTOR, ".o_ThreadView .o_ComposerTextInput_textarea"))
            conv = x("whatsapp.conversation", "search", [["discuss_channel_id", "=", channel]])[0]
            # the customer's last message 25 hours ago (a new value: each window closes once)
            closed = datetime.datetime.utcnow() - datetime.timedelta(hours=25)
            x("whatsapp.conversation", "write", [conv], {"last_inbound_at": closed.strftime("%Y-%m-%d %H:%M:%S")})
            t0 = time.monotonic()
            thread = lambda d: d.find_element(By.CSS_SELECTOR, ".o_ThreadView").text
            WebDriverWait(driver, 90, 0.1).until(lambda d: "Fenêtre de 24 heures fermée" in thread(d) or "24-hour window closed" in thread(d))
            out["window_notice_ms"] = round((time.monotonic() - t0) * 1000)
            before = len(get_json(a.emulator + "/_emulator/requests?path=/messages"))
            late = "Réponse tardive " + uuid.uuid4().hex[:6]
            composer = driver.find_element(By.CSS_SELECTOR, ".o_ThreadView .o_ComposerTextInput_textarea")
            composer.send_keys(late + Keys.ENTER)
            WebDriverWait(driver, 30, 0.05).until(lambda d: "Non envoyé" in thread(d) or "Not sent" in thread(d))
            time.sleep(2)
            sent = get_json(a.emulator + "/_emulator/requests?path=/messages")[before:]
            out["late_text_sent"] = any(late in json.dumps(r) for r in sent)
            driver.save_screenshot(os.path.join(a.shots, "5-window-closed.png"))
            composer.send_keys("/template " + a.close_window + Keys.ENTER)
            WebDriverWait(driver, 30, 0.05).until(lambda _: any(
                '"template"' in json.dumps(r) for r in get_json(a.emulator + "/_emulator/requests?path=/messages")[before:]))
            out["template_sent"] = True
            time.sleep(1)
            driver.save_screenshot(os.path.join(a.shots, "5b-template-sent.png"))

        # 4. the same conversation in WhatsApp > Conversations
        conv = x("whatsapp.conversation", "search", [["discuss_channel_id", "=", channel]])[0]
        driver.get("%s/web#model=whatsapp.conversation&id=%d&view_type=form" % (a.odoo, conv))
        WebDriverWait(driver, 30, 0.05).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".o_kanban_record"))
        time.sleep(0.5)
        driver.save_screenshot(os.path.join(a.shots, "4-conversation-form.png"))
        out["reloads"] = 0
    except Exception:
        driver.save_screenshot(os.path.join(a.shots, "error.png"))
        open(os.path.join(a.shots, "error.html"), "w").write(driver.page_source)
        raise
    finally:
        driver.quit()
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
