"""The web page in a real Chromium, driven by Playwright, beside a --plain
lanchat client: run by `web.rs` (the `needs` tests), which starts the
server and passes where everything is in the environment.

Every wait is bounded; the server this script restarts is its own, killed
by its PID at the end.
"""

import json
import os
import queue
import signal
import socket
import subprocess
import threading
import time

from playwright.sync_api import expect, sync_playwright

URL = os.environ["LANCHAT_WEB_URL"]
ADDR = os.environ["LANCHAT_ADDR"]
BIN = os.environ["LANCHAT_BIN"]
SHOTS = os.environ["LANCHAT_SHOTS"]
SERVER_PID = int(os.environ["LANCHAT_SERVER_PID"])
SERVE = json.loads(os.environ["LANCHAT_SERVE"])
PATIENCE = 15
expect.set_options(timeout=PATIENCE * 1000)


class Plain:
    """A --plain client, read line by line."""

    def __init__(self, name):
        self.proc = subprocess.Popen(
            [BIN, "join", "--plain", "--server", ADDR, "--name", name],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines = queue.Queue()
        self.seen = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def send(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def everything(self):
        """Leaves, and returns every line the client ever printed."""
        self.send("/x")
        self.proc.wait(timeout=PATIENCE)
        # The reader ends at the end of the output: then the queue is all.
        self.reader.join(timeout=PATIENCE)
        assert not self.reader.is_alive(), "the --plain output never ended"
        while not self.lines.empty():
            self.seen.append(self.lines.get_nowait())
        return self.seen

    def expect(self, wanted):
        deadline = time.time() + PATIENCE
        while time.time() < deadline:
            try:
                line = self.lines.get(timeout=deadline - time.time())
            except queue.Empty:
                break
            self.seen.append(line)
            if wanted in line:
                return line
        raise AssertionError(f"--plain never showed {wanted!r}; saw {self.seen}")


def enter(page, text):
    page.fill("#input", text)
    page.press("#input", "Enter")


def join(browser, name, viewport):
    page = browser.new_page(viewport=viewport)
    page.goto(URL)
    enter(page, name)
    expect(page.locator("#log")).to_contain_text(f"Welcome to lab, {name}!")
    return page


def foreign_origin_is_refused():
    host, port = URL.split("//")[1].rstrip("/").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=PATIENCE) as s:
        s.sendall(
            (
                f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nOrigin: http://evil.example\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        answer = s.recv(4096).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 403"), answer


def main():
    foreign_origin_is_refused()
    tom = Plain("tom")
    tom.expect("Welcome to lab, tom!")
    server = None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        ann = join(browser, "ann", {"width": 1280, "height": 800})
        bob = join(browser, "bob", {"width": 390, "height": 844})
        expect(ann.locator("#log")).to_contain_text("bob joined")
        tom.expect("*** ann joined")
        tom.expect("*** bob joined")

        # A taken name is asked again, with the server's reason.
        eve = browser.new_page()
        eve.goto(URL)
        enter(eve, "ann")
        expect(eve.locator("#log")).to_contain_text("can't use that name")
        expect(eve.locator("#prompt")).to_have_text("Your name")
        enter(eve, "eve")
        expect(eve.locator("#log")).to_contain_text("Welcome to lab, eve!")

        # Everyone hears everyone.
        enter(ann, "hello from ann")
        expect(bob.locator("#log")).to_contain_text("ann: hello from ann")
        tom.expect("<ann> hello from ann")
        tom.send("hi from tom")
        expect(ann.locator("#log")).to_contain_text("tom: hi from tom")
        expect(bob.locator("#log")).to_contain_text("tom: hi from tom")

        # Whispers: clicking a name starts one; only the two see it.
        ann.locator("#users button.name", has_text="bob").click()
        expect(ann.locator("#input")).to_have_value("/w bob ")
        ann.type("#input", "psst bob")
        ann.press("#input", "Enter")
        expect(bob.locator("#log")).to_contain_text("(whisper from ann) psst bob")
        tom.send("/w bob from the terminal")
        expect(bob.locator("#log")).to_contain_text("(whisper from tom) from the terminal")
        enter(bob, "/list")
        expect(bob.locator("#log")).to_contain_text("In the room:")

        # While the tab is hidden, the title counts what was missed.
        bob.evaluate(
            "Object.defineProperty(document, 'hidden', {value: true, configurable: true});"
            "document.dispatchEvent(new Event('visibilitychange'))"
        )
        enter(ann, "one")
        enter(ann, "two")
        expect(bob).to_have_title("(2) lab — lanchat")
        bob.evaluate(
            "Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
            "document.dispatchEvent(new Event('visibilitychange'))"
        )
        expect(bob).to_have_title("lab — lanchat")

        # Keyboard only: Tab to the input, type, Enter.
        ann.locator("body").focus()
        ann.keyboard.press("Tab")
        for _ in range(12):
            if ann.evaluate("document.activeElement.id") == "input":
                break
            ann.keyboard.press("Tab")
        assert ann.evaluate("document.activeElement.id") == "input"
        ann.keyboard.type("typed with keys only")
        ann.keyboard.press("Enter")
        expect(bob.locator("#log")).to_contain_text("ann: typed with keys only")

        # Mentions are highlighted.
        enter(ann, "bob, look")
        expect(bob.locator("#log li.mention")).to_contain_text("bob, look")

        # Hostile text arrives as text.
        for attack in (
            "<img src=x onerror=window.pwned=1>",
            "</script><script>window.pwned=2</script>",
            "<a href=\"javascript:window.pwned=3\">click</a>",
        ):
            enter(bob, attack)
            expect(ann.locator("#log")).to_contain_text(attack)
        assert ann.evaluate("window.pwned") is None
        assert ann.locator("#log img, #log script, #log a").count() == 0

        # Leaving is seen (a closed tab is a lost connection: the name is
        # held for it to come back).
        enter(eve, "/x")
        expect(eve.locator("#status")).to_have_text("left the room")
        expect(ann.locator("#log")).to_contain_text("eve left")
        tom.expect("*** eve left")

        # At phone size the people list is a tap away.
        expect(bob.locator("#users")).not_to_be_visible()
        bob.click("#people-toggle")
        expect(bob.locator("#users")).to_be_visible()
        expect(bob.locator("#users")).to_contain_text("ann")
        bob.screenshot(path=os.path.join(SHOTS, "phone-390x844.png"))
        ann.screenshot(path=os.path.join(SHOTS, "desktop-1280x800.png"))

        # The server goes away and comes back: the page reconnects alone.
        os.kill(SERVER_PID, signal.SIGTERM)
        expect(ann.locator("#status")).to_contain_text("reconnecting")
        server = subprocess.Popen(SERVE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        expect(ann.locator("#status")).to_have_text("in the room as ann")
        enter(ann, "back again")
        expect(bob.locator("#log")).to_contain_text("ann: back again")
        browser.close()
    # Tom never saw the whisper between ann and bob: every line he printed
    # is read, not only those read while waiting for others.
    for line in tom.everything():
        assert "psst" not in line, line
    if server:
        server.kill()
        server.wait()
    print("web check passed")


if __name__ == "__main__":
    main()
