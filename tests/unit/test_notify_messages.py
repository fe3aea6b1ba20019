"""Notification messages and Apprise URLs without any server: hostile text stays text in every
markup (checked with a CommonMark renderer and an HTML parser), mentions are broken, every part of a
URL that could be a secret is masked, NOTIFY_URLS splits where Apprise would."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from remediation_app.services.notify import targets
from remediation_app.services.notify.messages import WORD_JOINER, Message, first_sentence, inert

HOSTILE = "<script>alert(1)</script> **b** _i_ [x](http://evil.example) `c` # h\n- item\n> quote @channel <!here>"


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k == "href"]


def parsed(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def message() -> Message:
    return Message(
        headline=f"[critical] {HOSTILE}",
        fields=(("Summary", HOSTILE), ("Empty", "")),
        links=(("Open the alert", "https://console.example/alerts/7"),),
    )


def test_markdown_renders_the_alert_text_as_text() -> None:
    body = message().body("markdown", with_headline=True)
    html = MarkdownIt("commonmark").render(body)
    tags = parsed(html)
    # Only the engine's own markup: bold labels, the paragraph, its one link.
    assert set(tags.tags) <= {"p", "strong", "a"} and tags.links == ["https://console.example/alerts/7"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "**b**" in html and "[x](http://evil.example)" in html
    assert "Empty" not in body


def test_html_escapes_and_plain_text_keeps_every_character() -> None:
    html = message().body("html", with_headline=False)
    tags = parsed(html)
    assert set(tags.tags) <= {"p", "b", "br", "a"} and tags.links == ["https://console.example/alerts/7"]
    assert "&lt;script&gt;" in html and "[critical]" not in html  # no headline: the target has a title field
    text = message().body("text", with_headline=True)
    assert "<script>alert(1)</script> **b**" in text and "https://console.example/alerts/7" in text


def test_inert_text_breaks_mentions_lines_and_length() -> None:
    value = inert("@channel\n@here\x00\u2028" + "x" * 500)
    assert value.startswith(f"@{WORD_JOINER}channel @{WORD_JOINER}here") and "\n" not in value
    assert len(value.replace(WORD_JOINER, "")) == 300 and value.endswith("…") and inert(value) == value
    assert message().title() == inert(f"[critical] {HOSTILE}", 200)
    assert first_sentence("The disk is full. Logs grow.") == "The disk is full."
    assert first_sentence("v1.2 failed! Then") == "v1.2 failed!"


@pytest.mark.parametrize(
    ("url", "secrets", "kept"),
    [
        (
            "json://bot:pa55word@hooks.example:8080/path/tok3n?+X-Token=h3ad3r",
            ["pa55word", "tok3n", "h3ad3r"],
            "hooks.example",
        ),
        (
            "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#oncall",
            ["T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ"],
            "",
        ),
        (
            "mailto://user:p%40ss%2Fword@smtp.example?to=oncall@example.com",
            ["p%40ss%2Fword", "p@ss/word"],
            "smtp.example",
        ),
        ("ntfy://secret-topic-name", ["secret-topic-name"], ""),
    ],
)
def test_every_part_that_could_be_a_secret_is_masked(url: str, secrets: list[str], kept: str) -> None:
    text = f"failed at {url}: " + " ".join(secrets) + f" host {kept}"
    masked = targets.mask(text, url)
    assert not any(secret in masked for secret in secrets), masked
    assert kept in masked and "***" in masked


def test_notify_urls_split_on_spaces_and_on_commas_before_a_scheme() -> None:
    value = "json://a/b, mailto://u:p@h?to=a@x.example,b@x.example  slack://A/B/C,json://x"
    assert targets.split_urls(value) == [
        "json://a/b",
        "mailto://u:p@h?to=a@x.example,b@x.example",
        "slack://A/B/C",
        "json://x",
    ]
    assert targets.digest("json://x") == targets.digest("json://x") != targets.digest("json://y")


def test_apprise_writes_our_markdown_for_slack_and_discord_without_mentions_or_markup() -> None:
    """Apprise turns the escaped CommonMark into each chat's own dialect: no mention, no link, no tag."""
    from apprise.common import NotifyFormat

    body = message().body("markdown", with_headline=True)
    slack = targets.instantiate("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#oncall")
    mrkdwn = slack.dialect_convert(body, NotifyFormat.MARKDOWN)
    assert "<!" not in mrkdwn and "<@" not in mrkdwn and "<http://evil" not in mrkdwn, mrkdwn
    assert "&lt;script&gt;" in mrkdwn and "<https://console.example/alerts/7|Open the alert>" in mrkdwn
    discord = targets.instantiate("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js")
    assert discord.ping_payload(body) == {}  # no @here, @everyone or <@id> to ping
