"""What an operator's own FAQ teaches the reader (its name for the member page), and words read in
context: a month that dates a move, another place's Wi-Fi, a gym inside an office's reading."""

from __future__ import annotations

import pytest

from bench.understanding import SETS, load_faq
from bot.understanding.analysis import analyse
from bot.understanding.faq import FaqIndex, page_names
from bot.understanding.intents import score_intents
from bot.understanding.phrasings import fit
from bot.understanding.reader import read
from storage.faq import FaqRow

NAMED = [
    FaqRow("t_16", "「マイいよなだ」の登録方法と必要なもの",
           "「マイいよなだ」は、ご契約内容の確認やご請求明細の閲覧ができる会員専用ページです。ご登録は無料です。"
           "ご登録には、お客様番号と電話番号が必要です。"),
    FaqRow("t_17", "ログインIDやパスワードを忘れてしまった",
           "ログイン画面の「パスワードを忘れた方」から再設定してください。"),
    FaqRow("t_11", "チャンネル一覧と番組表", "「いよなだTVガイド」で番組表をご覧いただけます。"),
]


def test_a_quoted_name_the_answer_calls_the_member_page_is_the_member_page():
    assert page_names(NAMED) == frozenset({"マイいよなだ"})  # the programme guide's name is no page


def test_an_entry_titled_with_the_operators_page_name_answers_the_member_page_question():
    index = fit(NAMED, analyse, bank=())
    reading = read("会員サイトに登録したいのですが、無料ですか？", index)
    assert reading.faq is not None and reading.faq.entry.id == "t_16", reading.label()
    assert "mypage" in index.concepts(NAMED[0])


def test_an_faq_without_such_a_name_names_no_page():
    assert FaqIndex(load_faq(SETS["ours"][1]), analyse).page_names == frozenset()


@pytest.mark.parametrize("text", [
    "3月末に引っ越します。工事費はいくらかかりますか",
    "4月に転勤で移るんだけど費用いくら？",
    "4月に太田に引っ越します。住所変更と移設の工事代っていくらですか？",  # a place between the month and the move
])
def test_a_month_that_dates_a_move_is_not_a_bill_request(text):
    assert all(s.score < 0.6 for s in score_intents(analyse(text)) if s.intent.startswith("bill."))


@pytest.mark.parametrize("text", ["3月の料金いくら？", "引越しの準備中だけど今月の請求いくら？"])
def test_a_bill_month_is_still_the_bill(text):
    assert score_intents(analyse(text))[0].score >= 0.85


@pytest.mark.parametrize(("text", "present", "absent"), [
    ("カフェのWi-Fiにスマホがつながらない", {"elsewhere"}, set()),
    ("自宅兼事務所のネット料金の領収書がほしい", set(), {"elsewhere"}),  # ジム is not inside ジムショ
    ("家族の通院の付き添いがあるので工事日を変えたい", set(), {"elsewhere"}),
    ("病院の予約を変えたい", {"elsewhere"}, set()),
    ("うちの住所でもサービスを使えるかエリアを確認したい", {"area"}, set()),
    ("エアコンが壊れた", {"elsewhere"}, set()),  # an everyday thing, in a short message
    ("前の設定はショップの人がやってくれたので、家のWi-Fiのパスワードを一度も見たことがありません。どこに書いてありますか",
     set(), {"elsewhere"}),  # … and context in a story about a matter of ours
])
def test_words_read_in_context(text, present, absent):
    concepts = analyse(text).concepts
    assert present <= concepts and not absent & concepts, sorted(concepts)


@pytest.mark.parametrize(("text", "present"), [
    ("ﾋｷｵﾄｼ ﾃﾞｷﾃﾅｲ", "late"),  # a failed debit, in half-width kana
    ("宿題の答え教えて", None),  # 教えて asks; it names nothing of ours
    ("ポイント結構たまってるんだけど何に使えるの？", "points"),
    ("サポートの電話番号", "contact"),
])
def test_more_words_read_as_customers_write_them(text, present):
    a = analyse(text)
    assert "教える" not in a.terms
    assert present is None or present in a.concepts, sorted(a.concepts)


def test_what_points_are_good_for_is_not_a_question_about_the_bot():
    assert all(s.intent != "help" or s.score < 0.85 for s in score_intents(analyse("ポイントって何に使えるの？")))


def test_an_entry_borrows_at_most_its_share_taken_from_every_question_it_answers():
    from bot.understanding.phrasings import PER_ENTRY, PER_QUESTION
    index = fit(load_faq(SETS["ours"][1]))
    assert max(index.borrowed.values()) <= PER_ENTRY
    assert index.borrowed["moving"] > PER_QUESTION  # more than one bank question's phrasings


DEFINED = [
    FaqRow("w_13", "マイえちごとは何ですか？",
           "「マイえちご」は、ご契約のお客さま専用の会員ページです。\n■「マイえちご」でできること\n・ご請求額の確認"),
    FaqRow("w_14", "マイえちごの登録方法", "「マイえちご」の会員登録には、お客さま番号をご用意ください。"),
    FaqRow("w_07", "今月の請求金額と内訳を確認したい",
           "ご請求金額と内訳は、\nマイえちごにログインしてご確認いただけます。"),
    FaqRow("w_08", "請求金額がいつもより高いのはなぜですか？",
           "工事費の分割分やオプションの追加で高くなることがあります。"),
    FaqRow("w_11", "チャンネル一覧", "「えちごTVガイド」で番組表をご覧いただけます。"),
    FaqRow("w_19", "マイえちごをLINEと連携したい",
           "トークの「ログインして連携」からマイえちごのIDでログインしてください。"),
]


def test_an_unquoted_page_name_is_learnt_where_an_answer_defines_it():
    assert page_names(DEFINED) == frozenset({"マイえちご"})  # a guide's name, never defined as a page, is not


@pytest.mark.parametrize(("text", "entry", "intent"), [
    ("「マイえちご」ではどのようなことができるのでしょうか。", "w_13", "help"),  # the page's entry beside help
    ("今月いくら払うか、マイページで見れる？", "w_07", "bill.this_month"),  # its answer names the page
    ("今月の請求高くない？なんで？", "w_08", "bill.this_month"),  # why a bill is higher, beside the card
    ("マイページって何ができるの？", "w_13", "help"),  # the entry on the page as such
    ("マイページもう使ってるけど、LINEからも見れる？", "w_19", "link"),  # then our 「ログインして連携」
])
def test_the_operators_entry_on_its_own_page_and_bills_is_found(text, entry, intent):
    reading = read(text, fit(DEFINED, analyse, bank=()))
    assert reading.faq is not None and reading.faq.entry.id == entry, reading.label()
    assert reading.intent == intent


def test_the_pages_own_name_in_half_width_katakana_finds_the_page():
    reading = read("ﾏｲｴﾁｺﾞ ﾅﾆ", fit(DEFINED, analyse, bank=()))
    assert "mypage" in reading.analysis.concepts
    assert (reading.faq or reading.suggestions[0]).entry.id == "w_13", reading.label()


def test_what_the_bot_can_do_gets_the_help_alone():
    reading = read("何ができるの？", fit(DEFINED, analyse, bank=()))
    assert (reading.intent, reading.faq) == ("help", None)


def test_a_bill_asked_for_alone_gets_the_card_alone():
    reading = read("今月いくら？", fit(DEFINED, analyse, bank=()))
    assert (reading.intent, reading.faq) == ("bill.this_month", None)


@pytest.mark.parametrize(("text", "present"), [
    ("ｻﾎﾟｰﾄ TEL ｼﾞｶﾝ", "contact"),  # Latin letters among the kana: the kana are spelled again all the same
    ("大雪で電柱から家に来ている線が垂れ下がっている", "storm"),
    ("ヤマトの不在票が入ってたけど再配達どう頼むの", "elsewhere"),
    ("会員ページ作りてぇんだども、何用意すればいい？", "start"),  # East Japan's 〜てぇ is 〜たい
    ("受話器を上げてもツー音がしない", "home_phone"),
    ("マンション全体ネット死んでる", "trouble"),
    ("かみなりのあと きかいの でんきが つきません", "lightning"),
])
def test_operators_customers_words(text, present):
    assert present in read(text, fit(DEFINED, analyse, bank=())).analysis.concepts


@pytest.mark.parametrize(("text", "elsewhere"), [
    ("お知らせメールが来ない、gmail使ってる", False),  # a web mail where our mails do not arrive: ours
    ("Gmailのパスワード忘れた", True),
    ("雷のあと機械の電気がつかない", False),  # a device's power light, not the power company
    ("電気代が高い", True),
])
def test_another_companys_name_is_context_beside_a_matter_of_ours(text, elsewhere):
    assert ("elsewhere" in analyse(text).concepts) is elsewhere


PAST_BILLS = [FaqRow("ad_17", "過去の請求金額や利用明細を確認したい",
                     "Myシティネットにログインし、「ご請求」からご確認ください。"),
              FaqRow("ad_05", "月額料金はいつ、どのように支払いますか？", "毎月27日に口座から引き落とします。")]


def test_past_bills_on_the_member_page_is_the_operators_entry_beside_the_list():
    reading = read("過去の請求金額を会員ページで確認することはできますか。", fit(PAST_BILLS, analyse, bank=()))
    assert (reading.intent, reading.faq and reading.faq.entry.id) == ("bill.list", "ad_17"), reading.label()


PORTAL = [FaqRow("af_14", "みやこ会員ポータルとはどのようなサービスですか？",
                 "みやこ会員ポータルは、当社サービスをご契約のお客様専用のオンラインページです。"),
          FaqRow("af_15", "みやこ会員ポータルに登録したいのですが、お客様番号はどこにありますか？",
                 "お客様番号は、ご契約内容のお知らせに記載されています。"),
          FaqRow("af_16", "みやこ会員ポータルのIDやパスワードを忘れたら、どうすればいいですか？",
                 "ログイン画面の「パスワードをお忘れの方」から再設定してください。"),
          FaqRow("af_02", "引っ越しの手続きはどうすればよいですか？", "お電話でお知らせください。"),
          FaqRow("af_03", "解約したいのですが、どこに連絡すればよいですか？", "お客様センターへご連絡ください。"),
          FaqRow("af_08", "テレビにエラーが出ます。故障でしょうか？", "チューナーの電源を入れ直してください。")]


def test_an_unquoted_name_heading_the_sentence_that_calls_it_the_members_page_is_the_page():
    assert page_names(PORTAL) == frozenset({"みやこ会員ポータル"})
    assert page_names(PORTAL[1:]) == frozenset()  # お客様番号は、… is no page


@pytest.mark.parametrize("text", ["ﾏｲﾍﾟｰｼﾞ って何", "マイページって何ができるの？"])
def test_what_the_member_page_is_gets_the_entry_on_the_page_as_such(text):
    reading = read(text, fit(PORTAL, analyse, bank=()))
    assert reading.faq is not None and reading.faq.entry.id == "af_14", reading.label()


@pytest.mark.parametrize("text", ["四電に電話つながらん、停電いつ戻る？", "清水寺の拝観時間って何時まで？",
                                  "イオンモールって何時まで開いてる？"])
def test_power_companies_temples_and_malls_are_anothers(text):
    assert "elsewhere" in analyse(text).concepts


def test_the_only_entry_near_enough_that_names_the_texts_topic_is_the_answer():
    """Operator D: nothing else near, the one entry worth suggesting (where the contract number is
    written, for registering) names the text's matter: answered, not offered alone as a button."""
    reading = read("会員登録しようとしたら契約番号入れろって言われた。どこに書いてあるの",
                   fit(load_faq(SETS["operator D"][1]), analyse))
    assert reading.outcome == "answered" and reading.faq is not None and reading.faq.entry.id == "d_18", \
        reading.label()
    assert read("明日の天気は？", fit(load_faq(SETS["operator D"][1]), analyse)).faq is None


@pytest.mark.parametrize(("text", "absent"), [("利用明細 オンライン確認", "line"),
                                              ("チャンネルのラインナップ", "line"),
                                              ("マイページの新規登録ってどうやるの？", "recording"),
                                              ("明細をスマホで見たい", "mobile"),
                                              ("りょうきんを スマホで みたい", "mobile")])
def test_a_word_that_hides_another_names_only_itself(text, absent):
    """オンライン holds ライン (LINE), 登録って holds 録っ (recording), a phone one reads a page on is no SIM."""
    assert absent not in analyse(text).concepts
    assert "line" in analyse("ラインで明細見れる？").concepts and "mobile" in analyse("スマホのプラン変えたい").concepts


def test_a_page_name_s_own_words_lend_its_entry_no_topic():
    """「ご契約者ポータル」 holds 契約者 (a contract holder's name): the entry is about registering, not a name."""
    rows = [FaqRow("n_13", "「しおかぜ ご契約者ポータル」に初めて登録したいのですが、何が必要ですか？",
                   "「しおかぜ ご契約者ポータル」は、ご契約内容やご請求を確認できる会員専用ページです。ご登録には"
                   "お客さま番号が必要です。"),
            FaqRow("n_05", "契約者の名義を変更したい", "名義変更の届出書をお送りします。")]
    index = FaqIndex(rows, analyse)
    assert "name" not in index.topics(rows[0]) and "mypage" in index.concepts(rows[0])
    assert "name" in index.topics(rows[1])


@pytest.mark.parametrize("text", ["請求額をネットで見たくて、マイページってのに登録したいんだけど、ここからできる？",
                                  "マイページの新規登録ってどうやるの？"])
def test_registering_for_the_page_to_see_bills_online_is_registering(text):
    assert score_intents(analyse(text))[0].intent == "register"


@pytest.mark.parametrize("text", ["去年ネットでマイページ登録したんだけど、ここでも何かいるの？",
                                  "パソコンでいつもマイページの明細見てるんやけど"])
def test_registered_already_said_in_the_past_is_already(text):
    assert "already" in analyse(text).concepts


@pytest.mark.parametrize(("text", "named"), [("PayPayとかで払えたりする？", True), ("PayPayの残高確認したい", False)])
def test_a_payment_app_is_context_beside_paying_us(text, named):
    assert ("elsewhere" not in analyse(text).concepts) is named


def test_a_kana_message_is_anothers_only_as_spelled():
    """「こうざ」 reads 口座 once spelled: ゆうちょ is then where the money comes from, beside a method."""
    index = fit(load_faq(SETS["operator AH"][1]), analyse)
    reading = read("しはらいは ゆうちょの こうざでも できますか", index)
    assert reading.faq is not None and reading.faq.entry.id == "ah_04", reading.label()


def test_another_places_weekday_hours_are_not_the_desks():
    index = fit(load_faq(SETS["operator AG"][1]), analyse)
    assert read("県立博物館って月曜休み？何時まで開いてる？", index).faq is None
    assert read("お店って月曜休み？", index).faq is not None


def test_a_bill_twice_last_month_s_is_a_higher_bill():
    assert "higher" in analyse("請求額が先月の倍になってる😡 なんで？").concepts


def test_a_talk_asked_where_a_shop_is_asks_the_place():
    scored = score_intents(analyse("直接お店に行って相談したいんだけど、米子の営業所ってどこにあるん？"))
    assert not scored or scored[0].intent != "handoff" or scored[0].score < 0.6


@pytest.mark.parametrize("text", ["草津線いま遅れてる？", "ニンテンドーアカウントのパスワード変えたい",
                                  "ガスコンロの火がつかない", "ジャンボ当たったら仕事やめたい", "1ドル何円？"])
def test_trains_games_the_house_a_job_and_money_abroad_are_anothers(text):
    assert "elsewhere" in analyse(text).concepts


@pytest.mark.parametrize("text", ["肥後銀行の窓口は何時まで開いていますか", "駅前のスーパー何時まで開いてる？",
                                  "ゆめタウンって今日何時まで開いとる？"])
def test_a_banks_desk_and_a_shop_without_a_particle_are_another_places_hours(text):
    index = fit(load_faq(SETS["operator R"][1]), analyse)
    assert read(text, index).faq is None
