"""The load test's yardstick: an echo bot written the way line-bot-sdk's README and its flask-echo example show it.

``WebhookHandler`` checks the signature and parses the body into the SDK's models; each text
message is answered with its own text through a new ``ApiClient`` (``with ApiClient(...)``)
and ``MessagingApi.reply_message_with_http_info``, inside the request. Served by the same
gunicorn configuration as the bot: ``gunicorn -c gunicorn.conf.py bench.echo_app:app``.
Settings: ``LINE_CHANNEL_SECRET``, ``LINE_CHANNEL_ACCESS_TOKEN``, ``LINE_API_BASE_URL``.
"""

import os

from flask import Flask, abort, request
from linebot.v3 import WebhookHandler
from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, ReplyMessageRequest, TextMessage
from linebot.v3.webhooks import MessageEvent, TextMessageContent

app = Flask(__name__)
configuration = Configuration(access_token=os.environ["LINE_CHANNEL_ACCESS_TOKEN"],
                              host=os.environ.get("LINE_API_BASE_URL", "https://api.line.me"))
handler = WebhookHandler(os.environ["LINE_CHANNEL_SECRET"])


@app.route("/callback", methods=["POST"])
def callback():
    signature = request.headers["X-Line-Signature"]
    body = request.get_data(as_text=True)
    try:
        handler.handle(body, signature)
    except InvalidSignatureError:
        abort(400)
    return "OK"


@handler.add(MessageEvent, message=TextMessageContent)
def handle_message(event):
    with ApiClient(configuration) as api_client:
        line_bot_api = MessagingApi(api_client)
        line_bot_api.reply_message_with_http_info(
            ReplyMessageRequest(reply_token=event.reply_token, messages=[TextMessage(text=event.message.text)]))
