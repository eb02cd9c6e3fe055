"""Dynamic responses (recorder/serve/templating.py, recorder/serve/dynamic.py), rule by
rule, with the cases of Postman's "Creating dynamic mock responses" and "Dynamic
variables" pages."""

from __future__ import annotations

import json
import random
import re

import pytest

from recorder.match.matcher import Incoming
from recorder.serve import dynamic
from recorder.serve.templating import Filler, fill

# Postman's reference list of dynamic variables, as its docs group them.
POSTMAN_NAMES = """
$guid $timestamp $isoTimestamp $randomUUID
$randomAlphaNumeric $randomBoolean $randomInt $randomColor $randomHexColor $randomAbbreviation
$randomIP $randomIPV6 $randomMACAddress $randomPassword $randomLocale $randomUserAgent
$randomProtocol $randomSemver
$randomFirstName $randomLastName $randomFullName $randomNamePrefix $randomNameSuffix
$randomJobArea $randomJobDescriptor $randomJobTitle $randomJobType
$randomPhoneNumber $randomPhoneNumberExt $randomCity $randomStreetName $randomStreetAddress
$randomCountry $randomCountryCode $randomLatitude $randomLongitude
$randomAvatarImage $randomImageUrl $randomAbstractImage $randomAnimalsImage
$randomBusinessImage $randomCatsImage $randomCityImage $randomFoodImage $randomNightlifeImage
$randomFashionImage $randomPeopleImage $randomNatureImage $randomSportsImage
$randomTransportImage $randomImageDataUri
$randomBankAccount $randomBankAccountName $randomCreditCardMask $randomBankAccountBic
$randomBankAccountIban $randomTransactionType $randomCurrencyCode $randomCurrencyName
$randomCurrencySymbol $randomBitcoin
$randomCompanyName $randomCompanySuffix $randomBs $randomBsAdjective $randomBsBuzz
$randomBsNoun
$randomCatchPhrase $randomCatchPhraseAdjective $randomCatchPhraseDescriptor
$randomCatchPhraseNoun
$randomDatabaseColumn $randomDatabaseType $randomDatabaseCollation $randomDatabaseEngine
$randomDateFuture $randomDatePast $randomDateRecent $randomWeekday $randomMonth
$randomDomainName $randomDomainSuffix $randomDomainWord $randomEmail $randomExampleEmail
$randomUserName $randomUrl
$randomFileName $randomFileType $randomFileExt $randomCommonFileName $randomCommonFileType
$randomCommonFileExt $randomFilePath $randomDirectoryPath $randomMimeType
$randomPrice $randomProduct $randomProductAdjective $randomProductMaterial $randomProductName
$randomDepartment
$randomNoun $randomVerb $randomIngverb $randomAdjective $randomWord $randomWords $randomPhrase
$randomLoremWord $randomLoremWords $randomLoremSentence $randomLoremSentences
$randomLoremParagraph $randomLoremParagraphs $randomLoremText $randomLoremSlug
$randomLoremLines
""".split()  # noqa: SIM905 (a list as Postman's reference prints it)

JSON = "application/json"


def request(target: str = "/", body: bytes = b"", headers=(), method: str = "POST") -> Incoming:
    return Incoming.from_target(method, target, list(headers), body)


def test_postman_has_118_dynamic_variables_and_mockrec_fills_every_one():
    assert len(POSTMAN_NAMES) == len(set(POSTMAN_NAMES)) == 118
    assert set(dynamic.DYNAMIC) == set(POSTMAN_NAMES)
    assert set(POSTMAN_NAMES) == dynamic.NO_FAKER | dynamic.FAKER_NAMES


@pytest.mark.parametrize("name", POSTMAN_NAMES)
def test_each_dynamic_variable_gives_postmans_type_and_keeps_json_valid(name):
    """Numbers and booleans unquoted stay numbers and booleans; text goes in quotes, and
    whatever it holds (quotes, line breaks) the body stays valid JSON."""
    rng = random.Random(7)
    for _ in range(3):
        if name in dynamic.NUMBERS:
            value = json.loads(fill(b'{"v": {{%s}}}' % name.encode(), request(), {}, rng,
                                    JSON))["v"]
            assert isinstance(value, int | float) and not isinstance(value, bool)
        elif name in dynamic.BOOLEANS:
            assert isinstance(json.loads(fill(b'{"v": {{%s}}}' % name.encode(), request(),
                                              {}, rng, JSON))["v"], bool)
        else:
            value = json.loads(fill(b'{"v": "{{%s}}"}' % name.encode(), request(), {}, rng,
                                    JSON))["v"]
            assert isinstance(value, str) and value.strip() and "{{" not in value


# Postman's descriptions of what each gives, as patterns.
SHAPES = {
    "$guid": r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    "$randomUUID": r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    "$timestamp": r"1[0-9]{9}",
    "$isoTimestamp": r"20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z",
    "$randomInt": r"\d{1,4}",
    "$randomAlphaNumeric": r"[a-z0-9]",
    "$randomBoolean": r"true|false",
    "$randomHexColor": r"#[0-9a-f]{6}",
    "$randomIP": r"\d{1,3}(\.\d{1,3}){3}",
    "$randomIPV6": r"[0-9a-f]{1,4}(:[0-9a-f]{1,4}){7}",
    "$randomMACAddress": r"[0-9a-f]{2}(:[0-9a-f]{2}){5}",
    "$randomPassword": r"[A-Za-z0-9]{15}",
    "$randomLocale": r"[a-z]{2}",
    "$randomProtocol": r"https?",
    "$randomSemver": r"\d\.\d\.\d",
    "$randomPhoneNumber": r"[2-9]\d\d-\d{3}-\d{4}",
    "$randomPhoneNumberExt": r"\d{1,2}-[2-9]\d\d-\d{3}-\d{4}",
    "$randomCountryCode": r"[A-Z]{2}",
    "$randomLatitude": r"-?\d{1,2}\.\d{4}",
    "$randomLongitude": r"-?\d{1,3}\.\d{4}",
    "$randomBankAccount": r"\d{8}",
    "$randomCreditCardMask": r"\d{4}",
    "$randomCurrencyCode": r"[A-Z]{3}",
    "$randomBankAccountIban": r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}",
    "$randomBankAccountBic": r"[A-Z]{6}[A-Z0-9]{2}",
    "$randomPrice": r"[1-9]\d\d\.\d\d",
    "$randomEmail": r"[^@\s]+@[^@\s]+\.[a-z]+",
    "$randomExampleEmail": r"[^@\s]+@example\.(com|org|net)",
    "$randomUrl": r"https?://[^\s/]+",
    "$randomImageDataUri": r"data:image/svg\+xml;charset=UTF-8,%3Csvg.*",
    "$randomDatePast": r"\w{3} \w{3} \d\d \d{4} \d\d:\d\d:\d\d GMT\+0000 \(.+\)",
    "$randomMimeType": r"[a-z]+/[\w.+-]+",
    "$randomDirectoryPath": r"/\S*",
    "$randomFilePath": r"/\S+\.\w+",
}


@pytest.mark.parametrize("name, pattern", SHAPES.items())
def test_dynamic_values_look_like_postmans(name, pattern):
    rng = random.Random(11)
    for _ in range(5):
        assert re.fullmatch(pattern, dynamic.value(name, rng)), name


def test_timestamps_are_now():
    import time
    assert abs(int(dynamic.value("$timestamp", random.Random())) - time.time()) < 5


def test_the_issues_example_stays_valid_json():
    body = fill(b'{"lat": {{$randomLatitude}}, "job": "{{$randomJobTitle}}"}', request(), {},
                content_type=JSON)
    doc = json.loads(body)
    assert -90 <= doc["lat"] <= 90 and doc["job"]


# -- request helpers: Postman's table of template helpers ---------------------------------------

DOCS_BODY = b'{"username": "s-morgenstern", "password": "12345", "a.a": "dotted", ' \
            b'"a": {"a": "nested"}, "items": [{"sku": "X1"}]}'


@pytest.mark.parametrize("template, incoming, result", [
    # {{$body}}: the full request body, as sent (a text body too, not a parsed form)
    (b"{{$body}}", request(body=DOCS_BODY), DOCS_BODY),
    (b"{{$body}}", request(body=b"a=1&b=2"), b"a=1&b=2"),
    (b"{{$body}}", request(body=b"plain text"), b"plain text"),
    # a property, by object-path
    (b"{{$body 'username'}}", request(body=DOCS_BODY), b"s-morgenstern"),
    (b"{{$body 'a.a'}}", request(body=DOCS_BODY), b"nested"),
    (b"{{$body 'items.0.sku'}}", request(body=DOCS_BODY), b"X1"),
    # `a\.a`: the key a.a, with the dot in its name
    (rb"{{$body 'a\.a'}}", request(body=DOCS_BODY), b"dotted"),
    # a default when the property is not there
    (b"{{$body 'nickname' 'postman'}}", request(body=DOCS_BODY), b"postman"),
    (b"{{$body 'username' 'postman'}}", request(body=DOCS_BODY), b"s-morgenstern"),
    # form bodies by key
    (b"{{$body 'b'}}", request(body=b"a=1&b=2"), b"2"),
    # an object comes back as JSON
    (b"{{$body 'a'}}", request(body=DOCS_BODY), b'{"a": "nested"}'),
    (b"{{$headers 'x-id'}}", request(headers=[("X-Id", "9")]), b"9"),
    (b"{{$queryParams 'page'}}", request("/items?page=3"), b"3"),
    (b"{{$queryParams 'size' '20'}}", request("/items?page=3"), b"20"),
    # the second segment of /product/12345/details
    (b"{{$pathSegments '1'}}", request("/product/12345/details"), b"12345"),
    (b"{{$pathSegments '7' 'none'}}", request("/product/12345/details"), b"none"),
    # unknown templates stay as written
    (b"{{nobody}} {{$randomNothing}}", request(), b"{{nobody}} {{$randomNothing}}"),
])
def test_request_helpers(template, incoming, result):
    assert fill(template, incoming, {}) == result


def test_postmans_contextual_response_example():
    """The docs' example: an example body with `{{$body 'username' 'postman'}}` and
    `{{$randomUUID}}`, both unquoted; the answer has them filled in place."""
    example = (b'{\n    "username": {{$body \'username\' \'postman\'}},\n'
               b'    "id": {{$randomUUID}}\n}')
    answer = fill(example, request(body=b'{"username": "s-morgenstern", "password": "12345"}'),
                  {})
    assert re.fullmatch(rb'\{\n    "username": s-morgenstern,\n    "id": [0-9a-f-]{36}\n\}',
                        answer)


def test_values_filled_inside_json_strings_are_escaped():
    incoming = request("/users/a%22b", body=b'{"q": "say \\"hi\\"\\n", "n": 5}')
    body = fill(b'{"q": "<{{$body \'q\'}}>", "n": {{$body \'n\'}}, "whole": "{{$body}}", '
                b'"esc": "\\"{{id}}\\\\", "raw": {{$body}}}', incoming, {"id": 'x"y'},
                content_type="application/json; charset=utf-8")
    doc = json.loads(body)
    assert doc == {"q": '<say "hi"\n>', "n": 5, "whole": '{"q": "say \\"hi\\"\\n", "n": 5}',
                   "esc": '"x"y\\', "raw": {"q": 'say "hi"\n', "n": 5}}
    # not a JSON body: values go in as they are
    assert fill(b'"{{$body \'q\'}}"', incoming, {}) == b'"say "hi"\n"'


def test_captures_and_variables():
    assert fill(b'{"id": {{userId}}, "env": "{{stage}}"}', request(), {
        "userId": "7", "stage": "dev"}) == b'{"id": 7, "env": "dev"}'


def test_a_binary_body_is_never_touched():
    body = b"\xff\xfe{{$guid}}"
    assert fill(body, request(), {}) == body


def test_headers_are_filled_like_bodies():
    filler = Filler(request("/users/5", headers=[("X-Trace", "t-1")]),
                    {"host": "http://api.example.test", "userId": "5"}, random.Random(1))
    fields = filler.headers([
        (b"Location", b"{{host}}/users/{{userId}}"),
        (b"X-Request-Id", b"{{$guid}}"),
        (b"X-Echo", b"{{$headers 'x-trace'}}"),
        (b"X-Lines", b"{{$randomLoremLines}}"),
        (b"X-Plain", b"as is"),
        (b"X-Unknown", b"{{nothing}}"),
    ])
    values = dict(fields)
    assert values[b"Location"] == b"http://api.example.test/users/5"
    assert re.fullmatch(rb"[0-9a-f-]{36}", values[b"X-Request-Id"])
    assert values[b"X-Echo"] == b"t-1"
    assert b"\n" not in values[b"X-Lines"] and b"\r" not in values[b"X-Lines"]
    assert values[b"X-Plain"] == b"as is" and values[b"X-Unknown"] == b"{{nothing}}"
    assert [k for k, _ in fields] == [b"Location", b"X-Request-Id", b"X-Echo", b"X-Lines",
                                     b"X-Plain", b"X-Unknown"]


ABSENT = Incoming.from_target("POST", "/shop/items?page=2", [("X-Id", "abc")],
                              b'{"user": {"name": "Ada"}}')


@pytest.mark.parametrize("template, expected", [
    ("{{$queryParams 'page'}}", "2"),
    ("{{$queryParams 'x'}}", ""),  # absent: nothing, not the template
    ("{{$queryParams 'x' 'first'}}", "first"),  # absent: the default
    ("{{$headers 'X-None'}}", ""),
    ("{{$body 'user.age' '42'}}", "42"),
    ("{{$body 'user.age'}}", ""),
    ("{{$pathSegments '7'}}", ""),
    ("{{notAVariable}}", "{{notAVariable}}"),  # unknown templates stay as written
])
def test_a_request_helper_with_nothing_to_give_gives_its_default_or_nothing(template, expected):
    assert fill(f"[{template}]".encode(), ABSENT, {}) == f"[{expected}]".encode()
