"""The form of address or greeting a message opens with ("王工，", "张经理您好：", "在吗？").

A vocative names who the message is for, not what is asked: "王工，帮我取个快递" and
"帮我取个快递" ask the same (guide rule 1, label what is asked). Yet the way a client addresses
a member correlates with labels in any corpus (in the training data "X经理" opens prohibited
asks 15 times as often as favors, "小X" favors twice as often as red-line asks), and its
tokens dilute a short message, so a model that reads it changes its label when a name is put
in front. :func:`drop_vocative` removes it before features are read.

What counts, at the very start of a normalized text only:

- a greeting: 你好/您好/在吗/在不在/哈喽/hi/hello/早上好/下午好/打扰一下/冒昧打扰…;
- an address: a surname and a title (王工, 张经理, 欧阳总, 陈生, 李sir), 小/老 and a surname
  (小李, 老王), 阿 and a name (阿强, 阿ken), a role (项目经理, 老师, 各位领导, 各参建单位), or a
  Latin name after hi/hello/dear ("hi tom");
- an address with a greeting or particle right after it (李工你好, 王工早, 小刘啊).

Each must be followed by a separator (comma, colon, exclamation or question mark, full stop,
tilde, space), or by another greeting or address that is ("晚上好王工，"); up to four are
removed ("王工，早上好，在吗？"). Without a separator an address is kept ("张总的报价单" is
about 张总, not to him); only 在吗/在么/在不在 and 您好 (not 您好像) run into the message
without one ("您好请问…", "在吗帮我…"). A text that would be left with no letter or Chinese character
("王工，在吗？") is kept whole.
"""

from __future__ import annotations

import re

from ._regex import first_characters

# common single-character surnames, then compound ones
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕"
    "丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武"
    "戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯"
    "纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪"
    "简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎"
    "甄丛仲虞敖巩明佘池查麻苑迟邝区"
)
_COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "诸葛",
    "上官",
    "东方",
    "皇甫",
    "慕容",
    "令狐",
    "尉迟",
    "公孙",
    "长孙",
    "夏侯",
    "宇文",
    "司徒",
    "端木",
    "独孤",
    "南宫",
    "西门",
)
# titles after a surname (王工, 张经理, 刘姐, 陈生 as Cantonese 陈先生)
_TITLES = (
    "总工",
    "工程师",
    "设计师",
    "会计师",
    "审计师",
    "架构师",
    "造价师",
    "经理",
    "总监",
    "主管",
    "主任",
    "老师",
    "老板",
    "师傅",
    "科长",
    "处长",
    "部长",
    "局长",
    "院长",
    "厂长",
    "所长",
    "站长",
    "行长",
    "校长",
    "队长",
    "组长",
    "班长",
    "书记",
    "主席",
    "秘书",
    "助理",
    "专员",
    "顾问",
    "医生",
    "大夫",
    "护士长",
    "律师",
    "会计",
    "教授",
    "博士",
    "先生",
    "女士",
    "小姐",
    "同学",
    "师兄",
    "师姐",
    "阿姨",
    "大哥",
    "大姐",
    "哥哥",
    "姐姐",
    "老弟",
    "sir",
    "董",
    "总",
    "工",
    "哥",
    "姐",
    "叔",
    "姨",
    "兄",
    "生",
)
# titles that address someone without a surname (老师，项目经理：), with an optional qualifier
_FAMILY = ("阿姨", "大哥", "大姐", "哥哥", "姐姐", "老弟", "sir")
_ROLE_TITLES = tuple(t for t in _TITLES if len(t) >= 2 and t not in _FAMILY)
_ROLE_QUALIFIERS = (
    "各位",
    "副",
    "总",
    "项目",
    "技术",
    "产品",
    "部门",
    "财务",
    "行政",
    "人事",
    "采购",
    "运维",
    "实施",
    "测试",
    "开发",
    "研发",
    "销售",
    "售后",
    "值班",
    "驻场",
    "现场",
    "厂家",
    "甲方",
    "乙方",
)
# forms of address on their own (各位，领导：亲，各参建单位：)
_BARE = (
    "各位",
    "大家",
    "诸位",
    "领导",
    "亲爱的",
    "亲",
    "兄弟",
    "哥们",
    "美女",
    "帅哥",
    "老铁",
    "同事们",
    "同事",
    "同仁",
    "朋友们",
    "小伙伴们",
    "项目组",
    "各相关单位",
    "各参建单位",
    "各单位",
    "各部门",
    "各科室",
)
_GREETINGS = (
    "你们好",
    "你好",
    "您好",
    "大家好",
    "各位好",
    "在吗",
    "在么",
    "在嘛",
    "在不在",
    "在不",
    "哈喽",
    "哈啰",
    "哈罗",
    "嗨",
    "hi",
    "hello",
    "hey",
    "dear",
    "早上好",
    "上午好",
    "中午好",
    "下午好",
    "晚上好",
    "早安",
    "午安",
    "晚安",
    "早",
    "喂",
    "哎",
    "诶",
    "嘿",
    "打扰一下",
    "打扰下",
    "打扰了",
    "不好意思打扰一下",
    "不好意思打扰下",
    "不好意思打扰了",
    "冒昧打扰一下",
    "冒昧打扰了",
    "冒昧打扰",
)
# surname + title pairs that are ordinary words, not addresses (施工, 卫生)
_NOT_ADDRESSES = ("施工", "童工", "古董", "卫生", "师生", "时生")


def _alternatives(words) -> str:
    return "(?:" + "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True)) + ")"


_SURNAME = f"(?:{_alternatives(_COMPOUND_SURNAMES)}|[{_SURNAMES}])"
_ROLE = f"(?:{_alternatives(_ROLE_QUALIFIERS)}?{_alternatives(_ROLE_TITLES)})"
_LATIN_NAME = "[a-z]+"
_NAME = (
    f"(?:{_SURNAME}{_alternatives(_TITLES)}|[小老]{_SURNAME}|阿(?:[\u4e00-\u9fff]|{_LATIN_NAME})|{_ROLE}"
    f"|{_alternatives(_BARE)}{{1,2}}{_ROLE}?|(?:hi|hello|hey|dear) {_LATIN_NAME}|{_LATIN_NAME}(?=你好|您好))"
)
_GREETING = _alternatives(_GREETINGS)
_PARTICLE = "[呀啊哈啦吖]?"
_ADDRESS = f"{_NAME}{_PARTICLE}(?:(?:{_GREETING}|好){_PARTICLE})?"
_SEPARATOR = r"[\s,:!?~.。]+"
# greetings that nothing else starts with, so they may run into the message
_RUN_ON = "(?:在吗|在么|在不在|您好(?!像))"
_LEADING = re.compile(
    f"@?(?!{_alternatives(_NOT_ADDRESSES)})(?:{_ADDRESS}|(?:{_GREETING}{_PARTICLE}){{1,2}})"
    f"(?:{_SEPARATOR}|(?=@?{_ADDRESS}{_SEPARATOR}))"
    f"|{_RUN_ON}{_PARTICLE}(?=[\u4e00-\u9fff])"
)
# every character a _LEADING match can start with, read from the pattern (None: unreadable, no
# pre-check): most texts start with none, and are settled without trying its alternatives
_OPENERS = first_characters(_LEADING)
_LETTER_OR_HAN = re.compile(r"[^\W\d_]")
MAX_VOCATIVES = 4


def vocative_end(normalized: str) -> int:
    """Where the opening greetings and forms of address of a normalized text end (0: none).

    See the module docstring for what counts; the text after them keeps at least one letter or
    Chinese character, else 0.
    """
    if _OPENERS is not None and normalized[:1] not in _OPENERS:
        return 0
    end = 0
    for _ in range(MAX_VOCATIVES):
        match = _LEADING.match(normalized, end)
        if match is None:
            break
        end = match.end()
    if end and not _LETTER_OR_HAN.search(normalized, end):
        return 0
    return end


def drop_vocative(normalized: str) -> str:
    """The normalized text without its opening greeting or form of address:
    ``drop_vocative("王工,帮我取个快递") == "帮我取个快递"``. Expects :func:`~boundary_nlp.text.normalize`'s
    output (half-width punctuation, simplified characters, lower case)."""
    return normalized[vocative_end(normalized) :]
