"""An upstream's error answers, as real servers send them, mapped to what a client can act on: a missing route
is the bridge's configuration (502, naming the URL called and the setting), an unknown model is the client's
request (the upstream's 404 and message), and a web page is cut to its title."""

from __future__ import annotations

import pytest

from openai_bridge.errors import UpstreamProtocolError
from openai_bridge.upstream.errors import TEXT_LIMIT, json_object, short_text, status_error

URL = "http://127.0.0.1:8000/v1/chat/completions"

NGINX_404 = (b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1>"
             b"</center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n")
# Express (an app's own server in front of nothing): the title says little, and it is what is shown.
EXPRESS_404 = (b'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n'
               b"<body>\n<pre>Cannot POST /v1/chat/completions</pre>\n</body>\n</html>\n")

# A route the upstream does not have, as each kind of server says it.
ROUTE_404 = {
    "nginx": NGINX_404,
    "express": EXPRESS_404,
    "FastAPI (vLLM, TGI, LiteLLM)": b'{"detail":"Not Found"}',
    "llama.cpp": b'{"error":{"message":"File Not Found","type":"not_found_error","code":404}}',  # seen live
    "Go net/http (Ollama)": b"404 page not found\n",
    "OpenAI": b'{"error":{"message":"Invalid URL (POST /v1/chat/completions/chat/completions)",'
              b'"type":"invalid_request_error","param":null,"code":null}}',
    "empty": b"",
}
# A model the upstream does not have: the client's request, the upstream's own 404.
MODEL_404 = {
    "OpenAI": (b'{"error":{"message":"The model `gpt-9` does not exist or you do not have access to it.",'
               b'"type":"invalid_request_error","param":null,"code":"model_not_found"}}',
               "The model `gpt-9` does not exist or you do not have access to it."),
    "vLLM": (b'{"object":"error","message":"The model `llama` does not exist.","type":"NotFoundError",'
             b'"param":null,"code":404}', "The model `llama` does not exist."),
    "Ollama": (b'{"error":"model \'llama3\' not found"}', "model 'llama3' not found"),
    "Ollama /v1": (b'{"error":{"message":"model \\"llama3\\" not found, try pulling it first","type":"api_error",'
                   b'"param":null,"code":null}}', 'model "llama3" not found, try pulling it first'),
}


@pytest.mark.parametrize("body", ROUTE_404.values(), ids=ROUTE_404)
def test_a_missing_route_is_a_502_naming_the_url_and_the_setting(body: bytes):
    error = status_error(404, body, "POST", URL)
    assert (error.status, error.code, error.type) == (502, "upstream_not_found", "upstream_error")
    assert error.upstream_status == 404
    assert error.message.startswith(f"The upstream has no route POST {URL} (it answered 404: ")
    assert "REMOTE_OPENAI_BASE_URL" in error.message
    assert "<" not in error.message


@pytest.mark.parametrize(("body", "said"), MODEL_404.values(), ids=MODEL_404)
def test_an_unknown_model_stays_a_404_with_the_upstreams_message(body: bytes, said: str):
    error = status_error(404, body, "POST", URL)
    assert (error.status, error.upstream_status) == (404, 404)
    assert error.message == f"Upstream error 404: {said}"
    assert "REMOTE_OPENAI_BASE_URL" not in error.message


def test_what_the_route_404_says_is_kept_short():
    assert "(it answered 404: 404 Not Found (an HTML page))" in status_error(404, NGINX_404, "POST", URL).message
    assert "(it answered 404: Not Found)" in status_error(404, b'{"detail":"Not Found"}', "POST", URL).message


def test_a_404_of_the_model_list_is_always_the_route():
    """GET /models names no model: "models" in OpenAI's "Invalid URL (GET /v1/models)" is the path."""
    for body in (b'{"error":{"message":"Invalid URL (GET /v1/models)","type":"invalid_request_error"}}',
                 b'{"error":"model list not found"}'):
        error = status_error(404, body, "GET", "http://h/v1/models")
        assert (error.status, error.code) == (502, "upstream_not_found")
        assert "GET http://h/v1/models" in error.message and "does not list its models" in error.message


def test_405_is_a_route_the_upstream_does_not_take():
    error = status_error(405, b'{"detail":"Method Not Allowed"}', "POST", URL)
    assert (error.status, error.code, error.upstream_status) == (502, "upstream_not_found", 405)
    assert f"does not take POST at {URL}" in error.message and "REMOTE_OPENAI_BASE_URL" in error.message


@pytest.mark.parametrize("status", [400, 422, 429, 500, 501, 503])
def test_other_statuses_keep_theirs_and_say_so(status: int):
    error = status_error(status, b'{"error":{"message":"nope"}}', "POST", URL)
    assert (error.status, error.upstream_status, error.message) == (status, status, f"Upstream error {status}: nope")


def test_the_auth_502_keeps_the_upstreams_status():
    error = status_error(401, b'{"error":{"message":"bad key"}}', "POST", URL)
    assert (error.status, error.code, error.upstream_status) == (502, "upstream_auth_failed", 401)


CLOUDFLARE_502 = (
    b'<!DOCTYPE html>\n<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->\n'
    b'<!--[if gt IE 8]><!--> <html class="no-js" lang="en-US"> <!--<![endif]-->\n<head>\n'
    b"<title>llm.example.com | 502: Bad gateway</title>\n"
    b'<meta charset="UTF-8" />\n<meta name="robots" content="noindex, nofollow" />\n'
    b'<style>body{margin:0;padding:0}</style>\n</head>\n<body>\n<div id="cf-wrapper">\n'
    + b'<div class="cf-section">' * 40 + b"\n<h1>Bad gateway</h1> <span>Error code 502</span>\n"
    + b"<p>The web server reported a bad gateway error.</p>\n" * 30 + b"</div>\n</body>\n</html>\n")


@pytest.mark.parametrize(("body", "shown"), [
    (CLOUDFLARE_502, "llm.example.com | 502: Bad gateway (an HTML page)"),
    (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>"
     b"\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", "502 Bad Gateway (an HTML page)"),
    (b"<html><head><style>h1{}</style></head><body>\n\n  <h1>Service &amp; model\n down</h1><p>later</p></body></html>",
     "Service & model down (an HTML page)"),
], ids=["cloudflare", "nginx", "no title"])
def test_an_html_error_page_is_cut_to_its_title_or_first_line(body: bytes, shown: str):
    assert short_text(body) == shown
    error = status_error(502, body, "POST", URL)
    assert (error.status, error.message) == (502, f"Upstream error 502: {shown}")


def test_long_plain_text_is_cut_and_says_so():
    body = ("Traceback (most recent call last):\n" + "  File x.py, line 1, in f\n" * 400).encode()
    text = short_text(body)
    assert text.startswith("Traceback (most recent call last):")
    assert len(text) < TEXT_LIMIT + 60 and text.endswith(f"... (cut: {len(body.strip())} characters in all)")
    assert short_text(b"x" * TEXT_LIMIT) == "x" * TEXT_LIMIT  # at the limit: whole, no mark


def test_a_web_page_where_json_was_expected_names_the_setting():
    with pytest.raises(UpstreamProtocolError, match=r"^The upstream answered GET http://h/v1/models with an HTML "
                                                    r"page \(Open WebUI\), not JSON\. Check REMOTE_OPENAI_BASE_URL"):
        json_object(b"<!doctype html><html><head><title>Open WebUI</title></head><body>...</body></html>",
                    "GET http://h/v1/models")
