"""Topics an operator's FAQ holds apart: joining the service and registering for the member page,
the internet's own mail address and the page's registration mail, a paper bill and the chat's
notices; money paid twice, a change of name, an app; and Latin words read whole."""

from __future__ import annotations

import pytest

from bot.understanding.analysis import analyse
from bot.understanding.intents import NOTICES_STOP, REGISTER, score_intents
from bot.understanding.phrasings import fit
from bot.understanding.reader import read
from storage.faq import FaqRow

FAQ = [
    FaqRow("join", "新規で加入したいのですが、申し込み方法と利用開始までの期間を教えてください。",
           "お電話またはホームページからお申し込みください。工事日は2〜3週間後です。"),
    FaqRow("register", "マイページの登録方法を教えてください。", "お客様番号とメールアドレスをご用意ください。"),
    FaqRow("isp_mail", "当社発行のメールアドレスにメールが届きません",
           "迷惑メールの設定と、メールソフトの受信サーバーの設定をご確認ください。"),
    FaqRow("registration_mail", "マイページの本登録メールが届きません",
           "迷惑メールフォルダをご確認のうえ、仮登録からやり直してください。"),
    FaqRow("paper", "紙の請求書を発行してもらえますか？", "1通110円で郵送いたします。"),
]


@pytest.fixture(scope="module")
def index():
    return fit(FAQ, analyse)  # with the shipped phrasings bank, as `import-faq` fits it


@pytest.mark.parametrize("text", ["うちもケーブル入りたいだに、どうやって申し込むずら？",
                                  "実家にもネット引きたいんですけど", "うちの地区でもケーブルテレビ引けますか"])
def test_joining_the_service_is_not_registering_for_the_page(text, index):
    assert "join" in analyse(text).concepts
    assert all(s.intent != REGISTER or s.score < 0.85 for s in score_intents(analyse(text)))
    reading = read(text, index)
    assert reading.faq is not None and reading.faq.entry.id == "join", reading.label()


def test_registering_for_the_page_is_still_registering():
    assert score_intents(analyse("マイページに登録したい"))[0].intent == REGISTER


@pytest.mark.parametrize(("text", "entry"), [
    ("ケーブルのメールが届かない", "isp_mail"),
    ("プロバイダのメールが受信できない", "isp_mail"),
    ("マイページ登録したのにメールが来ない", "registration_mail"),
])
def test_the_internets_mail_and_the_pages_registration_mail_are_two_matters(text, entry, index):
    reading = read(text, index)
    assert reading.faq is not None and reading.faq.entry.id == entry, reading.label()


def test_an_issued_mail_address_is_no_invoice():
    assert "invoice" not in analyse("当社発行のメールアドレスにメールが届きません").concepts


@pytest.mark.parametrize(("text", "paper"), [
    ("毎月のお知らせを紙で送ってほしい", True),
    ("紙明細 停止 web切替", True),
    ("紙で見てるから料金のお知らせは止めて", False),  # the paper is why the chat's notices stop
    ("LINEの料金のお知らせは止めてください", False),
])
def test_notices_on_paper_are_the_invoices(text, paper):
    sure = [s for s in score_intents(analyse(text)) if s.intent.startswith("notices.") and s.score >= 0.85]
    assert (not sure) is paper, sure
    if not paper:
        assert sure[0].intent == NOTICES_STOP


@pytest.mark.parametrize(("text", "concept", "present"), [
    ("echigo-cableのメール", "channel", False),  # ch is not a channel inside a word
    ("jobsのサイト", "tv", False),
    ("BSが映らない", "tv", True),
    ("NHKBSが見たい", "tv", True),
    ("wifiのpw", "credential", True),
])
def test_latin_phrases_are_whole_words(text, concept, present):
    assert (concept in analyse(text).concepts) is present


def test_every_topic_is_also_a_retrieval_term():
    """A topic an FAQ entry is about ranks the entries too (a new topic once was only a topic)."""
    from bot.understanding.analysis import RETRIEVAL_CONCEPTS
    from bot.understanding.intents import TOPICAL

    assert TOPICAL <= RETRIEVAL_CONCEPTS


@pytest.mark.parametrize(("text", "present", "absent"), [
    ("メアド変わりました", {"phone"}, set()),  # the contact details on file change
    ("携帯の番号変えたので届け出たい", {"phone", "change"}, set()),
    ("お客様センターの連絡先", {"contact"}, {"phone"}),  # the desk's number is no change of ours
    ("いんたーねっとが ときどき きれます", {"unstable"}, set()),
    ("口座振替の日にちを教えてください", {"debit"}, set()),
    ("急に地上波が見られなくなりました", {"tv"}, set()),
])
def test_words_customers_use_for_a_topic(text, present, absent):
    concepts = analyse(text).concepts
    assert present <= concepts and not absent & concepts, sorted(concepts)


@pytest.mark.parametrize(("text", "elsewhere"), [
    ("iPhoneに機種変更したら、家のWi-Fiにつながらなくなりました。以前は自動でつながっていたのですが、パスワードを"
     "聞かれても分かりません。どこで確認して、どうつなげばいいですか？", False),
    ("ネットフリックスを見ているのですが、最近料金が上がったので解約しようと思っています。どこから解約の手続きを"
     "すればいいですか？", True),  # cancelling alone does not make a story ours
    ("電力会社を切り替えようと思っているのですが、今の電気の契約を解約するには何日前までに連絡すればいいのでしょうか。"
     "引っ越しの予定もあります。", True),
    ("YouTubeを見る", True),
])
def test_a_story_about_our_service_takes_another_companys_things_as_context(text, elsewhere):
    concepts = analyse(text).concepts
    assert ("elsewhere" in concepts) is elsewhere, sorted(concepts)


def test_net_inside_a_name_is_no_internet():
    assert "internet" not in analyse("ネットフリックスの解約").concepts


@pytest.mark.parametrize("text", ["マイページ会員だけど、ここで何かしないといけない？",
                                  "マイページ登録済みの人向けの案内ある？"])
def test_a_member_of_the_web_page_asking_what_to_do_here_is_not_asking_for_help_or_notices(text):
    assert all(s.score < 0.6 for s in score_intents(analyse(text)))


@pytest.mark.parametrize(("text", "concept"), [
    ("今月払うのうっかり忘れてた、どうしよう", "late"),
    ("まいつきの おかねを ちがう ぎんこうから はらいたいのですが", "method"),
    ("紙明細 停止 web切替", "paperless"),
])
def test_more_words_for_paying(text, concept):
    assert concept in analyse(text).concepts


def test_a_negative_ending_is_not_spelled_as_a_death():
    from bot.understanding.spelling import Speller

    speller = Speller([], known={"ナクナッタ": "亡くなった", "ナクナリ": "亡くなり", "メイギ": "名義"})
    assert speller.respell("てれびが みれなくなった") == "てれびが みれなくなった"  # can no longer see
    assert speller.respell("ちちが なくなりました めいぎ") == "ちちが 亡くなりました 名義"


# -- money paid twice, a change of name, an app ------------------------------------------------
MONEY = [
    FaqRow("refund", "二重払いの返金", "コンビニと口座振替の両方でお支払いの場合は、翌月のご請求で調整いたします。"),
    FaqRow("slip", "払込票でのお支払い", "払込票はお近くのコンビニでお支払いいただけます。"),
    FaqRow("amount", "請求金額の確認", "マイページの「ご請求」でご確認いただけます。"),
    FaqRow("marriage", "結婚による名字の変更", "ご契約者様の姓が変わった場合は、名義変更届をお送りください。"),
    FaqRow("death", "契約者が亡くなられた場合", "ご家族の方への名義変更、またはご解約のお手続きをご案内します。"),
    FaqRow("app", "マイページのスマホアプリ", "App StoreまたはGoogle Playからダウンロードしてください。"),
]


@pytest.fixture(scope="module")
def money():
    return fit(MONEY, analyse)


@pytest.mark.parametrize(("text", "entry"), [
    ("二重払い　返金", "refund"),
    ("まちがえて にかい はらって しまいました おかね は かえして もらえますか", "refund"),
    ("入籍したので契約者の名義を変更したいです", "marriage"),
    ("父が他界したので契約者を変えたい", "death"),
    ("マイページのアプリってどこで入れられますか", "app"),
])
def test_a_refund_a_change_of_name_and_the_app_are_their_entries_not_the_bill(text, entry, money):
    reading = read(text, money)
    assert reading.faq is not None and reading.faq.entry.id == entry, reading.label()


def test_a_tv_that_stopped_showing_is_no_bereavement():
    assert "bereavement" not in analyse("テレビがみれなくなった").concepts


# -- what the member page is for; a company named that the FAQ's question does not name -------------
PAGE = [
    FaqRow("page", "マイページではどのようなことができますか？",
           "ご契約内容やご請求額の確認、各種お手続きができます。"),
    FaqRow("page_password", "マイページのパスワードを忘れました",
           "ログイン画面の「パスワードをお忘れの方」から再設定できます。"),
    FaqRow("wifi", "Wi-Fiのパスワードと新しい機器のつなぎ方は？", "ルーターのシールに記載されています。",
           ("新しいスマホをWi-Fiにつなぎたい", "プリンターを無線でつなげたいです")),
]


@pytest.fixture(scope="module")
def page():
    return fit(PAGE, analyse)


@pytest.mark.parametrize("text", ["会員ページって何ができるの？", "マイページってどんなことができるんですか",
                                  "マイページは何に使うものですか"])
def test_asking_what_the_member_page_is_for_is_its_entry(text, page):
    reading = read(text, page)
    assert reading.faq is not None and reading.faq.entry.id == "page", reading.label()


def test_another_companys_password_is_not_answered_by_an_entry_whose_example_names_a_printer(page):
    assert read("ドコモのdアカウントのパスワードを忘れました", page).faq is None
