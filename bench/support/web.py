"""The app over HTTP as its users reach it: signed in through the login form.

    session = sign_in(base, "bench-reader-00", password)  # a requests.Session, signed in
    headers = session_headers(session)                     # for a client of one's own

`sign_in` does what a browser does: GET the login page for its CSRF cookie, POST the form
with the token and a same-origin Referer, and raises unless a session cookie came back.
"""

from __future__ import annotations

import requests


def sign_in(base: str, username: str, password: str, *, timeout: float = 30) -> requests.Session:
    """A session signed in as `username` through /accounts/login/."""
    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=timeout).raise_for_status()
    response = session.post(
        f"{base}/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=timeout,
    )
    response.raise_for_status()
    if "sessionid" not in session.cookies:
        raise RuntimeError(f"{username} could not sign in")
    return session


def session_headers(session: requests.Session) -> dict[str, str]:
    """The Cookie and X-CSRFToken headers of a signed-in session, for an HTTP client."""
    return {
        "Cookie": "; ".join(f"{c.name}={c.value}" for c in session.cookies),
        "X-CSRFToken": session.cookies["csrftoken"],
    }
