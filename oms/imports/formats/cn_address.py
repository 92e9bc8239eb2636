"""A Chinese address written as one string (Taobao's 收货地址), split best-effort into
province (region), city and the rest (line1), with a trailing postal code in brackets.

    "浙江省 杭州市 西湖区 文三路90号 (310012)" -> 浙江省, 杭州市, 西湖区 文三路90号, 310012
    "北京 北京市 朝阳区 建国路1号"              -> 北京, 北京市, 朝阳区 建国路1号
    "广东省深圳市南山区科技园南区"              -> 广东省, 深圳市, 南山区科技园南区

A string that starts with no known province is kept whole as line1 (region and city
empty): the rules then ask for the city of an open order, and a closed one keeps it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The 34 provincial-level divisions, by the name they are written with (short name first).
PROVINCES = (
    "北京",
    "天津",
    "上海",
    "重庆",
    "河北",
    "山西",
    "辽宁",
    "吉林",
    "黑龙江",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "海南",
    "四川",
    "贵州",
    "云南",
    "陕西",
    "甘肃",
    "青海",
    "台湾",
    "内蒙古",
    "广西",
    "西藏",
    "宁夏",
    "新疆",
    "香港",
    "澳门",
)
_SUFFIXES = ("省", "市", "壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "特别行政区")
_PROVINCE = re.compile(
    "^(" + "|".join(sorted(PROVINCES, key=len, reverse=True)) + ")(" + "|".join(_SUFFIXES) + ")?"
)
_CITY = (re.compile(r"^(.{1,10}?市)"), re.compile(r"^(.{1,12}?(自治州|地区|盟|州))"))
_POSTAL = re.compile(r"[(（]\s*([0-9]{3,8})\s*[)）]\s*$")
_MUNICIPALITIES = ("北京", "天津", "上海", "重庆")


@dataclass
class Address:
    region: str
    city: str
    line1: str
    postal_code: str | None


def split(text: str) -> Address:
    text = " ".join(text.split())
    postal: str | None = None
    m = _POSTAL.search(text)
    if m:
        postal, text = m.group(1), text[: m.start()].strip()
    p = _PROVINCE.match(text)
    if not p:
        return Address("", "", text, postal)
    region = p.group(0)
    rest = text[p.end() :].strip()
    if " " in rest:
        city, _, line1 = rest.partition(" ")
        return Address(region, city, line1.strip(), postal)
    for shape in _CITY:
        c = shape.match(rest)
        if c:
            return Address(region, c.group(1), rest[c.end() :].strip(), postal)
    if p.group(1) in _MUNICIPALITIES:
        return Address(region, p.group(1) + "市", rest, postal)
    return Address(region, "", rest, postal)
