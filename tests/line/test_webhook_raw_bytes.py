"""The webhook signature is an HMAC over the body's raw bytes (issue 21, point 6)."""

from __future__ import annotations

import io
import json

from tests.line_driver import sign


def _body(user_id: str, text: str) -> bytes:
    event = {"type": "message", "mode": "active", "timestamp": 1, "webhookEventId": "01J00000000000000000000000",
             "deliveryContext": {"isRedelivery": False}, "replyToken": "r" * 32,
             "source": {"type": "user", "userId": user_id},
             "message": {"id": "1", "type": "text", "quoteToken": "q", "text": text}}
    return json.dumps({"destination": "U0123456789abcdef0123456789abcdef", "events": [event]},
                      ensure_ascii=False).encode()


def test_a_body_signed_over_its_decoded_text_is_refused(client, line_api):
    raw = _body("U" + "1" * 32, "ヘルプ").replace(b"\xe3\x83\x98", b"\xff\xfe\xe3\x83\x98")  # not UTF-8 any more
    replaced = raw.decode("utf-8", errors="replace").encode("utf-8")  # what a decode-first check would sign
    response = client.post("/callback", data=raw, headers={"X-Line-Signature": sign(replaced)})
    assert response.status_code == 400
    assert line_api.calls == []


def test_bytes_that_are_not_utf8_signed_as_they_are_are_a_malformed_body(client, line_api):
    raw = _body("U" + "2" * 32, "ヘルプ").replace(b"\xe3\x83\x98", b"\xff\xfe")
    response = client.post("/callback", data=raw, headers={"X-Line-Signature": sign(raw)})
    assert response.status_code == 400
    assert line_api.calls == []


def test_a_signature_with_characters_outside_ascii_is_400_not_500(client):
    body = _body("U" + "3" * 32, "ヘルプ")
    response = client.post("/callback", data=body, headers={"X-Line-Signature": "é" + sign(body)[1:]})
    assert response.status_code == 400


def test_a_chunked_body_over_one_mebibyte_is_413(client):
    body = b'{"events": [], "pad": "' + b"x" * (1024 * 1024 + 10) + b'"}'

    # No Content-Length, the input marked terminated: what gunicorn hands over for a chunked body.
    response = client.post("/callback", input_stream=io.BytesIO(body),
                           headers={"X-Line-Signature": sign(body), "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})
    assert response.status_code == 413
