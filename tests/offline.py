"""Test helper: a page in Chromium with every request that is not a local file aborted and counted,
and every console error or page error kept (``clean()`` asserts there were none)."""
from __future__ import annotations


class OfflinePage:
    def __init__(self, browser, url: str, size=(1400, 900), **context) -> None:
        self.errors, self.blocked = [], []
        self.context = browser.new_context(viewport={"width": size[0], "height": size[1]}, **context)
        self.page = p = self.context.new_page()
        p.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        p.on("pageerror", lambda e: self.errors.append(str(e)))
        p.route("**/*", self._route)
        p.goto(url)

    def _route(self, route) -> None:
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def js(self, expression, arg=None):
        return self.page.evaluate(expression, arg)
