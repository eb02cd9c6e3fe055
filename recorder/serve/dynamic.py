"""Postman's dynamic variables: all 118 `{{$...}}` names, each a generator of fake data.

The names and what each gives are Postman's (its "Dynamic variables" reference,
built on faker.js); the values come from Faker, the usual fake-data library in
Python, except where a line of Python does it (ids, times, numbers), so that
`{{$guid}}` or `{{$timestamp}}` never need it. Faker is imported on first use
(`warm_up` does it ahead, in a thread): the command line and a proxy whose
examples use none of these start as fast as before.

Types are Postman's: NUMBERS give plain numbers and `$randomBoolean` gives
`true`/`false`, so `{"lat": {{$randomLatitude}}}` is valid JSON; everything
else is text, meant to stand inside quotes.
"""

from __future__ import annotations

import random
import string
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

_faker: Any = None
_lock = threading.Lock()


def faker(rng: random.Random) -> Any:
    """The shared Faker (en_US), drawing from `rng`."""
    global _faker
    if _faker is None:
        with _lock:
            if _faker is None:
                from faker import Faker  # heavy: only when a variable needs it

                _faker = Faker("en_US")
    if _faker.random is not rng:
        _faker.random = rng
    return _faker


def warm_up() -> threading.Thread | None:
    """Import Faker in a thread, so the first answer needing it does not wait for it."""
    if _faker is not None:
        return None
    thread = threading.Thread(target=faker, args=(random.Random(),), daemon=True,
                              name="mockrec-faker-import")
    thread.start()
    return thread


def needs_faker(text: bytes | str) -> bool:
    """Whether `text` names a dynamic variable whose value comes from Faker."""
    if isinstance(text, bytes):
        if b"{{" not in text:
            return False
        text = text.decode("utf-8", "replace")
    return "{{" in text and any(f"{{{{{name}}}}}" in text for name in FAKER_NAMES)


# -- small word lists for what Faker has no provider for (commerce, hacker, database) ----

DEPARTMENTS = ["Books", "Movies", "Music", "Games", "Electronics", "Computers", "Home",
               "Garden", "Tools", "Grocery", "Health", "Beauty", "Toys", "Kids", "Baby",
               "Clothing", "Shoes", "Jewelery", "Sports", "Outdoors", "Automotive", "Industrial"]
PRODUCT_ADJECTIVES = ["Small", "Ergonomic", "Rustic", "Intelligent", "Gorgeous", "Incredible",
                      "Fantastic", "Practical", "Sleek", "Awesome", "Generic", "Handcrafted",
                      "Handmade", "Licensed", "Refined", "Unbranded", "Tasty"]
PRODUCT_MATERIALS = ["Steel", "Wooden", "Concrete", "Plastic", "Cotton", "Granite", "Rubber",
                     "Metal", "Soft", "Fresh", "Frozen"]
PRODUCTS = ["Chair", "Car", "Computer", "Keyboard", "Mouse", "Bike", "Ball", "Gloves",
            "Pants", "Shirt", "Table", "Shoes", "Hat", "Towels", "Soap", "Tuna", "Chicken",
            "Fish", "Cheese", "Bacon", "Pizza", "Salad", "Sausages", "Chips"]
ACCOUNT_TYPES = ["Checking", "Savings", "Money Market", "Investment", "Home Loan",
                 "Credit Card", "Auto Loan", "Personal Loan"]
TRANSACTION_TYPES = ["deposit", "withdrawal", "payment", "invoice"]
ABBREVIATIONS = ["ADP", "AGP", "AI", "CSS", "EXE", "FTP", "GB", "HDD", "HTTP", "IB", "JSON",
                 "PCI", "PNG", "RAM", "RSS", "SAS", "SCSI", "SDD", "SMS", "SMTP", "SQL", "SSL",
                 "TCP", "THX", "USB", "XML", "XSS"]
HACKER_ADJECTIVES = ["auxiliary", "primary", "back-end", "digital", "open-source", "virtual",
                     "cross-platform", "redundant", "online", "haptic", "multi-byte",
                     "bluetooth", "wireless", "1080p", "neural", "optical", "solid state",
                     "mobile"]
HACKER_NOUNS = ["driver", "protocol", "bandwidth", "panel", "microchip", "program", "port",
                "card", "array", "interface", "system", "sensor", "firewall", "hard drive",
                "pixel", "alarm", "feed", "monitor", "application", "transmitter", "bus",
                "circuit", "capacitor", "matrix"]
HACKER_VERBS = ["back up", "bypass", "hack", "override", "compress", "copy", "navigate",
                "index", "connect", "generate", "quantify", "calculate", "synthesize", "input",
                "transmit", "program", "reboot", "parse"]
HACKER_INGVERBS = ["backing up", "bypassing", "hacking", "overriding", "compressing", "copying",
                   "navigating", "indexing", "connecting", "generating", "quantifying",
                   "calculating", "synthesizing", "transmitting", "programming", "parsing"]
DB_COLUMNS = ["id", "title", "name", "email", "phone", "token", "group", "category",
              "password", "comment", "avatar", "status", "createdAt", "updatedAt"]
DB_TYPES = ["int", "varchar", "text", "date", "datetime", "tinyint", "time", "timestamp",
            "smallint", "mediumint", "bigint", "decimal", "float", "double", "real", "bit",
            "boolean", "serial", "blob", "binary", "enum", "set", "geometry", "point"]
DB_COLLATIONS = ["utf8_unicode_ci", "utf8_general_ci", "utf8_bin", "ascii_bin",
                 "ascii_general_ci", "cp1250_bin", "cp1250_general_ci"]
DB_ENGINES = ["InnoDB", "MyISAM", "Memory", "CSV", "BLACKHOLE", "ARCHIVE"]
JOB_DESCRIPTORS = ["Lead", "Senior", "Direct", "Corporate", "Dynamic", "Future", "Product",
                   "National", "Regional", "District", "Central", "Global", "Customer",
                   "Investor", "Internal", "International", "Legacy", "Forward", "Principal",
                   "Chief"]
JOB_AREAS = ["Solutions", "Program", "Brand", "Security", "Research", "Marketing",
             "Directives", "Implementation", "Integration", "Functionality", "Response",
             "Paradigm", "Tactics", "Identity", "Markets", "Group", "Division",
             "Applications", "Optimization", "Operations", "Infrastructure", "Intranet",
             "Communications", "Web", "Branding", "Quality", "Assurance", "Mobility",
             "Accounts", "Data", "Creative", "Configuration", "Accountability",
             "Interactions", "Factors", "Usability", "Metrics"]
JOB_TYPES = ["Supervisor", "Associate", "Executive", "Liaison", "Officer", "Manager",
             "Engineer", "Specialist", "Director", "Coordinator", "Administrator", "Architect",
             "Analyst", "Designer", "Planner", "Orchestrator", "Technician", "Developer",
             "Producer", "Consultant", "Assistant", "Facilitator", "Agent", "Representative",
             "Strategist"]
DIRECTORIES = ["/Applications", "/bin", "/boot", "/dev", "/etc", "/etc/defaults", "/home",
               "/home/user", "/home/user/dir", "/lib", "/Library", "/media", "/mnt", "/opt",
               "/opt/bin", "/opt/lib", "/private/tmp", "/root", "/sbin", "/srv", "/tmp",
               "/Users", "/usr", "/usr/bin", "/usr/lib", "/usr/local/bin", "/usr/share",
               "/var", "/var/log", "/var/mail", "/var/tmp"]
IMAGE_TOPICS = {"$randomAbstractImage": "abstract", "$randomAnimalsImage": "animals",
                "$randomBusinessImage": "business", "$randomCatsImage": "cats",
                "$randomCityImage": "city", "$randomFoodImage": "food",
                "$randomNightlifeImage": "nightlife", "$randomFashionImage": "fashion",
                "$randomPeopleImage": "people", "$randomNatureImage": "nature",
                "$randomSportsImage": "sports", "$randomTransportImage": "transport"}
# ISO 639-1 language codes
LOCALES = ["af", "am", "ar", "az", "be", "bg", "bn", "bs", "ca", "cs", "cy", "da", "de", "el",
           "en", "eo", "es", "et", "eu", "fa", "fi", "fr", "ga", "gl", "gu", "he", "hi", "hr",
           "hu", "hy", "id", "is", "it", "ja", "ka", "kk", "km", "kn", "ko", "lt", "lv", "mk",
           "ml", "mn", "mr", "ms", "mt", "nb", "ne", "nl", "pa", "pl", "pt", "ro", "ru", "sk",
           "sl", "sq", "sr", "sv", "sw", "ta", "te", "th", "tr", "uk", "ur", "uz", "vi", "zh",
           "zu"]
FILE_CATEGORIES = ["audio", "image", "office", "text", "video"]
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
JS_DATE = "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)"

Generator = Callable[[random.Random], str]


def _pick(items: list[str]) -> Generator:
    return lambda rng: rng.choice(items)


def _fake(method: str, *args: Any, **kwargs: Any) -> Generator:
    return lambda rng: str(getattr(faker(rng), method)(*args, **kwargs))


def _phone(rng: random.Random) -> str:
    def digits(n: int) -> str:
        return "".join(rng.choice(string.digits) for _ in range(n))

    return f"{rng.randint(2, 9)}{digits(2)}-{digits(3)}-{digits(4)}"


def _date(days: tuple[float, float]) -> Generator:
    """A JavaScript Date as text, as Postman prints one: `Tue Mar 05 2024 10:21:07 GMT+0000 ...`."""
    def make(rng: random.Random) -> str:
        moment = datetime.now(UTC) + timedelta(days=rng.uniform(*days))
        return moment.strftime(JS_DATE)
    return make


def _words(low: int, high: int) -> Generator:
    return lambda rng: " ".join(faker(rng).words(rng.randint(low, high)))


def _catch_phrase_word(part: int) -> Generator:
    def make(rng: random.Random) -> str:
        from faker.providers.company.en_US import Provider
        return rng.choice(Provider.catch_phrase_words[part])
    return make


def _bs_word(part: int) -> Generator:
    def make(rng: random.Random) -> str:
        from faker.providers.company.en_US import Provider
        return rng.choice(Provider.bsWords[part])
    return make


def _image_data_uri(rng: random.Random) -> str:
    color = f"#{rng.randrange(0x1000000):06x}"
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="640" height="480">'
           f'<rect width="100%" height="100%" fill="{color}"/>'
           f'<text x="320" y="240" font-size="20" text-anchor="middle" fill="white">'
           f'640x480</text></svg>')
    return "data:image/svg+xml;charset=UTF-8," + quote(svg, safe="")


def _image(topic: str) -> Generator:
    return lambda rng: f"https://loremflickr.com/640/480/{topic}?lock={rng.randint(1, 99999)}"


def _file_path(rng: random.Random) -> str:
    return f"{rng.choice(DIRECTORIES)}/{faker(rng).file_name()}"


def _common_file_name(rng: random.Random) -> str:
    return faker(rng).file_name(category=rng.choice(FILE_CATEGORIES))


def _common_file_ext(rng: random.Random) -> str:
    return faker(rng).file_extension(category=rng.choice(FILE_CATEGORIES))


def _lines(rng: random.Random) -> str:
    return "\n".join(faker(rng).sentences(rng.randint(1, 5)))


# Postman's 118 names, grouped as its reference lists them.
DYNAMIC: dict[str, Generator] = {
    # common
    "$guid": lambda rng: str(uuid.uuid4()),
    "$timestamp": lambda rng: str(int(time.time())),
    "$isoTimestamp": lambda rng: datetime.now(UTC).isoformat(timespec="milliseconds")
    .replace("+00:00", "Z"),
    "$randomUUID": lambda rng: str(uuid.uuid4()),
    # text, numbers and colors
    "$randomAlphaNumeric": lambda rng: rng.choice(string.ascii_lowercase + string.digits),
    "$randomBoolean": lambda rng: rng.choice(["true", "false"]),
    "$randomInt": lambda rng: str(rng.randint(0, 1000)),
    "$randomColor": _fake("safe_color_name"),
    "$randomHexColor": _fake("hex_color"),
    "$randomAbbreviation": _pick(ABBREVIATIONS),
    # internet and IP addresses
    "$randomIP": _fake("ipv4"),
    "$randomIPV6": _fake("ipv6"),
    "$randomMACAddress": _fake("mac_address"),
    "$randomPassword": _fake("password", length=15, special_chars=False),
    "$randomLocale": _pick(LOCALES),
    "$randomUserAgent": _fake("user_agent"),
    "$randomProtocol": _pick(["http", "https"]),
    "$randomSemver": lambda rng: ".".join(str(rng.randint(0, 9)) for _ in range(3)),
    # names
    "$randomFirstName": _fake("first_name"),
    "$randomLastName": _fake("last_name"),
    "$randomFullName": _fake("name"),
    "$randomNamePrefix": _fake("prefix"),
    "$randomNameSuffix": _fake("suffix"),
    # profession
    "$randomJobArea": _pick(JOB_AREAS),
    "$randomJobDescriptor": _pick(JOB_DESCRIPTORS),
    "$randomJobTitle": lambda rng: (f"{rng.choice(JOB_DESCRIPTORS)} {rng.choice(JOB_AREAS)} "
                                    f"{rng.choice(JOB_TYPES)}"),
    "$randomJobType": _pick(JOB_TYPES),
    # phone, address and location
    "$randomPhoneNumber": _phone,
    "$randomPhoneNumberExt": lambda rng: f"{rng.randint(1, 99)}-{_phone(rng)}",
    "$randomCity": _fake("city"),
    "$randomStreetName": _fake("street_name"),
    "$randomStreetAddress": _fake("street_address"),
    "$randomCountry": _fake("country"),
    "$randomCountryCode": _fake("country_code"),
    "$randomLatitude": lambda rng: f"{rng.uniform(-90, 90):.4f}",
    "$randomLongitude": lambda rng: f"{rng.uniform(-180, 180):.4f}",
    # images
    "$randomAvatarImage": lambda rng: f"https://i.pravatar.cc/128?u={rng.getrandbits(64):016x}",
    "$randomImageUrl": lambda rng: f"https://picsum.photos/640/480?random={rng.randint(1, 999)}",
    **{name: _image(topic) for name, topic in IMAGE_TOPICS.items()},
    "$randomImageDataUri": _image_data_uri,
    # finance
    "$randomBankAccount": lambda rng: "".join(rng.choice(string.digits) for _ in range(8)),
    "$randomBankAccountName": lambda rng: f"{rng.choice(ACCOUNT_TYPES)} Account",
    "$randomCreditCardMask": lambda rng: "".join(rng.choice(string.digits) for _ in range(4)),
    "$randomBankAccountBic": _fake("swift", length=8),
    "$randomBankAccountIban": _fake("iban"),
    "$randomTransactionType": _pick(TRANSACTION_TYPES),
    "$randomCurrencyCode": _fake("currency_code"),
    "$randomCurrencyName": _fake("currency_name"),
    "$randomCurrencySymbol": _fake("currency_symbol"),
    "$randomBitcoin": lambda rng: rng.choice("13") + "".join(
        rng.choice(BASE58) for _ in range(rng.randint(25, 33))),
    # business
    "$randomCompanyName": _fake("company"),
    "$randomCompanySuffix": _fake("company_suffix"),
    "$randomBs": _fake("bs"),
    "$randomBsAdjective": _bs_word(1),
    "$randomBsBuzz": _bs_word(0),
    "$randomBsNoun": _bs_word(2),
    # catchphrases
    "$randomCatchPhrase": _fake("catch_phrase"),
    "$randomCatchPhraseAdjective": _catch_phrase_word(0),
    "$randomCatchPhraseDescriptor": _catch_phrase_word(1),
    "$randomCatchPhraseNoun": _catch_phrase_word(2),
    # databases
    "$randomDatabaseColumn": _pick(DB_COLUMNS),
    "$randomDatabaseType": _pick(DB_TYPES),
    "$randomDatabaseCollation": _pick(DB_COLLATIONS),
    "$randomDatabaseEngine": _pick(DB_ENGINES),
    # dates
    "$randomDateFuture": _date((1, 365)),
    "$randomDatePast": _date((-365, -1)),
    "$randomDateRecent": _date((-1, 0)),
    "$randomWeekday": _fake("day_of_week"),
    "$randomMonth": _fake("month_name"),
    # domains, emails and usernames
    "$randomDomainName": _fake("domain_name"),
    "$randomDomainSuffix": _fake("tld"),
    "$randomDomainWord": _fake("domain_word"),
    "$randomEmail": _fake("email"),
    "$randomExampleEmail": _fake("safe_email"),
    "$randomUserName": _fake("user_name"),
    "$randomUrl": lambda rng: faker(rng).url().rstrip("/"),
    # files and directories
    "$randomFileName": _fake("file_name"),
    "$randomFileType": lambda rng: faker(rng).mime_type().split("/")[0],
    "$randomFileExt": _fake("file_extension"),
    "$randomCommonFileName": _common_file_name,
    "$randomCommonFileType": _pick(["video", "audio", "image", "text", "application"]),
    "$randomCommonFileExt": _common_file_ext,
    "$randomFilePath": _file_path,
    "$randomDirectoryPath": _pick(DIRECTORIES),
    "$randomMimeType": _fake("mime_type"),
    # stores
    "$randomPrice": lambda rng: f"{rng.uniform(100, 999):.2f}",
    "$randomProduct": _pick(PRODUCTS),
    "$randomProductAdjective": _pick(PRODUCT_ADJECTIVES),
    "$randomProductMaterial": _pick(PRODUCT_MATERIALS),
    "$randomProductName": lambda rng: (f"{rng.choice(PRODUCT_ADJECTIVES)} "
                                       f"{rng.choice(PRODUCT_MATERIALS)} {rng.choice(PRODUCTS)}"),
    "$randomDepartment": _pick(DEPARTMENTS),
    # grammar
    "$randomNoun": _pick(HACKER_NOUNS),
    "$randomVerb": _pick(HACKER_VERBS),
    "$randomIngverb": _pick(HACKER_INGVERBS),
    "$randomAdjective": _pick(HACKER_ADJECTIVES),
    "$randomWord": _fake("word"),
    "$randomWords": _words(2, 5),
    "$randomPhrase": lambda rng: (
        f"If we {rng.choice(HACKER_VERBS)} the {rng.choice(HACKER_NOUNS)}, we can get to the "
        f"{rng.choice(ABBREVIATIONS)} {rng.choice(HACKER_NOUNS)} through the "
        f"{rng.choice(HACKER_ADJECTIVES)} {rng.choice(ABBREVIATIONS)} "
        f"{rng.choice(HACKER_NOUNS)}!"),
    # lorem ipsum
    "$randomLoremWord": _fake("word"),
    "$randomLoremWords": _words(3, 3),
    "$randomLoremSentence": _fake("sentence"),
    "$randomLoremSentences": lambda rng: " ".join(faker(rng).sentences(rng.randint(2, 6))),
    "$randomLoremParagraph": _fake("paragraph"),
    "$randomLoremParagraphs": lambda rng: "\n \r".join(faker(rng).paragraphs(3)),
    "$randomLoremText": _fake("text"),
    "$randomLoremSlug": _fake("slug"),
    "$randomLoremLines": _lines,
}

# Values that are JSON numbers or booleans as they stand (written without quotes).
NUMBERS = frozenset({"$timestamp", "$randomInt", "$randomLatitude", "$randomLongitude",
                     "$randomPrice"})
BOOLEANS = frozenset({"$randomBoolean"})
# The ones that need no Faker: their values are made by a line of Python.
NO_FAKER = frozenset({
    "$guid", "$timestamp", "$isoTimestamp", "$randomUUID", "$randomAlphaNumeric",
    "$randomBoolean", "$randomInt", "$randomAbbreviation", "$randomProtocol", "$randomSemver",
    "$randomJobArea", "$randomJobDescriptor", "$randomJobTitle", "$randomJobType",
    "$randomPhoneNumber", "$randomPhoneNumberExt", "$randomLatitude", "$randomLongitude",
    "$randomLocale", "$randomAvatarImage", "$randomImageUrl", *IMAGE_TOPICS, "$randomImageDataUri",
    "$randomBankAccount", "$randomBankAccountName", "$randomCreditCardMask",
    "$randomTransactionType", "$randomBitcoin", "$randomDatabaseColumn", "$randomDatabaseType",
    "$randomDatabaseCollation", "$randomDatabaseEngine", "$randomDateFuture",
    "$randomDatePast", "$randomDateRecent", "$randomCommonFileType", "$randomDirectoryPath",
    "$randomPrice", "$randomProduct", "$randomProductAdjective", "$randomProductMaterial",
    "$randomProductName", "$randomDepartment", "$randomNoun", "$randomVerb", "$randomIngverb",
    "$randomAdjective", "$randomPhrase"})
FAKER_NAMES = frozenset(DYNAMIC) - NO_FAKER


def value(name: str, rng: random.Random) -> str | None:
    """The value of `{{name}}` if it is one of Postman's dynamic variables, else None."""
    make = DYNAMIC.get(name)
    return None if make is None else make(rng)
