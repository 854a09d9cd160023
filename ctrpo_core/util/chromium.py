"""How this project's browser checks start Chromium (the end-to-end tests and the app's scale benchmark): the
system's build, headless, with nothing that reaches the network on its own."""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
