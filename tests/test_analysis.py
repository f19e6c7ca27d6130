from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from boundary_nlp.analysis import Analysis, AskPart, analyze, split_asks
from boundary_nlp.labels import LABELS

try:
    from ._tiny import StubModel, make_prediction, tiny_model
except ImportError:
    from _tiny import StubModel, make_prediction, tiny_model


@pytest.fixture(scope="session")
def trained():
    return tiny_model()


# --- split_asks ------------------------------------------------------------------------


def test_split_on_connective_after_comma():
    parts = split_asks("会议纪要发群里，另外帮我把考勤记录改一下")
    assert parts == ["会议纪要发群里", "另外帮我把考勤记录改一下"]


def test_trailing_punctuation_is_stripped():
    assert split_asks("会议纪要发群里，另外帮我把考勤记录改一下。") == [
        "会议纪要发群里",
        "另外帮我把考勤记录改一下",
    ]


@pytest.mark.parametrize(
    "message",
    ["帮我把测试环境部署一下", "你好，帮我把报表导一下", "开完会顺便帮我取个快递", "我们还有三天就上线了"],
)
def test_no_split_point_gives_one_part(message):
    assert split_asks(message) == [message]


def test_sentence_ends_split():
    parts = split_asks("日志发我看看。帮我取个快递！密码借我用下？")
    assert parts == ["日志发我看看", "帮我取个快递", "密码借我用下"]
    assert split_asks("部署新版本；顺便带杯咖啡;还有把报告改成通过") == [
        "部署新版本",
        "顺便带杯咖啡",
        "还有把报告改成通过",
    ]
    assert split_asks("第一件事\n第二件事\r\n第三件事") == ["第一件事", "第二件事", "第三件事"]


@pytest.mark.parametrize("connective", ["另外", "顺便", "还有", "对了", "再就是", "此外", "另"])
def test_each_connective_starts_an_ask_after_a_comma(connective):
    assert split_asks(f"把报告发我，{connective}帮我取个快递") == ["把报告发我", f"{connective}帮我取个快递"]


def test_connective_after_space_or_half_width_comma():
    assert split_asks("把报告发我 顺便帮我取个快递") == ["把报告发我", "顺便帮我取个快递"]
    assert split_asks("把报告发我,另外帮我取个快递") == ["把报告发我", "另外帮我取个快递"]


def test_comma_without_connective_does_not_split():
    assert split_asks("王工，麻烦把报告发我，谢谢") == ["王工，麻烦把报告发我，谢谢"]


def test_traditional_connectives():
    assert split_asks("報表發我，順便把密碼借我用一下！還有，幫我拿個快遞") == [
        "報表發我",
        "順便把密碼借我用一下",
        "還有，幫我拿個快遞",
    ]
    assert split_asks("會議紀要發群裡，另外幫我改一下考勤") == ["會議紀要發群裡", "另外幫我改一下考勤"]
    assert split_asks("先部署，對了，帮我带杯咖啡") == ["先部署", "對了，帮我带杯咖啡"]


def test_ling_yi_is_not_a_connective():
    parts = split_asks("这台装好了，另一台还没装，另请把日志发我")
    assert parts == ["这台装好了，另一台还没装", "另请把日志发我"]


def test_lone_connective_joins_the_next_ask():
    assert split_asks("把报告发我。对了！帮我取快递") == ["把报告发我", "对了！帮我取快递"]
    assert split_asks("把报告发我。另外：\n测试报告改成通过") == ["把报告发我", "另外：\n测试报告改成通过"]


def test_empty_and_particle_parts_are_dropped():
    assert split_asks("") == []
    assert split_asks("   ") == []
    assert split_asks("！！！。。。") == []
    assert split_asks("帮我取快递。。。哈哈！谢谢！😀") == ["帮我取快递"]
    assert split_asks("改下考勤吧。好的。辛苦了！") == ["改下考勤吧"]


def test_message_that_is_only_a_pleasantry_gives_itself():
    assert split_asks("谢谢！") == ["谢谢"]


def test_split_asks_rejects_non_str():
    with pytest.raises(TypeError):
        split_asks(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        split_asks(b"\xe4\xbd\xa0")  # type: ignore[arg-type]


@given(st.text(alphabet=st.sampled_from(list("帮我改考勤另外顺便还有对了此外另一，。！？ \n,;谢哈"))))
def test_parts_are_ordered_non_empty_pieces_of_the_message(message):
    parts = split_asks(message)
    position = 0
    for part in parts:
        assert part and part == part.strip()
        found = message.find(part, position)
        assert found >= 0, (message, parts)
        position = found + len(part)


# --- analyze: the combination rule, with a stub model ---------------------------------


def test_most_serious_part_wins():
    result = analyze("会议纪要发群里，另外帮我把考勤记录改一下", model=StubModel())
    assert isinstance(result, Analysis)
    assert [p.text for p in result.parts] == ["会议纪要发群里", "另外帮我把考勤记录改一下"]
    assert all(isinstance(p, AskPart) for p in result.parts)
    assert [p.prediction.label for p in result.parts] == ["in_scope", "prohibited"]
    assert result.overall.label == "prohibited"
    assert result.overall is result.parts[1].prediction
    assert result.overall_part == 1
    assert "2" in result.reason and "prohibited" in result.reason


def test_prohibited_beats_courtesy_beats_in_scope():
    result = analyze("日志发我。帮我取个快递。部署一下", model=StubModel())
    assert result.overall.label == "courtesy"
    assert result.overall_part == 1


def test_tie_goes_to_the_highest_confidence():
    message = "甲事，另外乙事，还有丙事"
    stub = StubModel(
        {
            "甲事": make_prediction("courtesy", 0.55),
            "另外乙事": make_prediction("courtesy", 0.95),
            "还有丙事": make_prediction("in_scope", 0.99),
            message: make_prediction("in_scope", 0.9),
        }
    )
    result = analyze(message, model=stub)
    assert result.overall_part == 1
    assert result.overall.confidence == 0.95


def test_whole_message_wins_when_more_serious():
    message = "先把数据导出来，另外发我邮箱"
    whole = make_prediction("prohibited", 0.7)
    result = analyze(message, model=StubModel({message: whole}))
    assert {p.prediction.label for p in result.parts} == {"in_scope"}
    assert result.whole is whole
    assert result.overall is whole
    assert result.overall_part is None
    assert "whole" in result.reason


def test_whole_message_equally_serious_keeps_the_part():
    message = "帮我取个快递，顺便带杯咖啡"
    result = analyze(message, model=StubModel({message: make_prediction("courtesy", 0.99)}))
    assert result.overall_part is not None
    assert result.overall is result.parts[result.overall_part].prediction


def test_labels_outside_the_guide_use_the_whole_message():
    labels = ("billing", "support")
    message = "发票开一下，另外系统登不上"
    stub = StubModel(
        {
            "发票开一下": make_prediction("billing", 0.9, labels),
            "另外系统登不上": make_prediction("support", 0.9, labels),
            message: make_prediction("support", 0.6, labels),
        }
    )
    result = analyze(message, model=stub)
    assert result.overall is result.whole
    assert result.overall.label == "support"


def test_single_ask():
    result = analyze("帮我取个快递", model=StubModel())
    assert len(result.parts) == 1
    assert result.overall.label == "courtesy"
    assert result.overall_part == 0


def test_empty_message_falls_back_to_the_whole():
    result = analyze("", model=StubModel())
    assert result.parts == []
    assert result.overall is result.whole


def test_threshold_is_passed_to_every_call():
    stub = StubModel()
    analyze("日志发我。帮我取个快递", model=stub, threshold=0.75)
    assert len(stub.calls) == 3
    assert {threshold for _, threshold in stub.calls} == {0.75}


@pytest.mark.parametrize("bad", [None, 42, b"bytes", ["a list"]])
def test_analyze_rejects_non_str(bad):
    with pytest.raises(TypeError):
        analyze(bad, model=StubModel())


def test_to_dict_is_json():
    result = analyze("会议纪要发群里，另外帮我把考勤记录改一下", model=StubModel())
    data = json.loads(json.dumps(result.to_dict(), ensure_ascii=False))
    assert data["message"] == "会议纪要发群里，另外帮我把考勤记录改一下"
    assert [p["text"] for p in data["parts"]] == ["会议纪要发群里", "另外帮我把考勤记录改一下"]
    assert data["parts"][1]["prediction"]["label"] == "prohibited"
    assert data["overall"]["label"] == "prohibited"
    assert data["overall_part"] == 1
    assert data["whole"]["label"] in LABELS
    assert data["reason"] == result.reason


# --- analyze with a real (tiny) trained model ------------------------------------------


def test_analyze_with_a_trained_model(trained):
    result = analyze("会议纪要发群里，另外帮我把考勤记录改一下", model=trained)
    assert len(result.parts) == 2
    for part in result.parts:
        assert part.prediction.label == trained.classify(part.text).label
        assert part.prediction.label in LABELS
    assert result.overall.label == "prohibited"


def test_done_when_check_with_the_shipped_model():
    import boundary_nlp

    try:
        boundary_nlp.default_model()
    except (FileNotFoundError, boundary_nlp.ModelLoadError) as error:
        pytest.skip(f"no shipped model yet: {error}")
    result = boundary_nlp.analyze("会议纪要发群里，另外帮我把考勤记录改一下")
    assert len(result.parts) == 2
    assert result.overall.label == "prohibited"


@pytest.mark.parametrize("closing", ["麻烦了！", "麻烦您了。", "辛苦你了", "谢啦~", "在吗？", "好的"])
def test_a_closing_pleasantry_with_a_particle_is_no_ask(closing):
    """Parts are compared without their particles: 麻烦了 is the pleasantry 麻烦了, not an ask."""
    assert split_asks(f"把考勤报表发我。{closing}") == ["把考勤报表发我"]
