"""Open and click tracking: which links are rewritten and how, the signed click address, the pixel."""
from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from app.delivery.tracking import (add_open_pixel, click_signature, make_token, read_token, rewrite_links,
                                   track_html, tracked, verify_click)

PUBLIC = "https://shop-receiver.example.net"
SECRET = bytes(range(32))
KEY = "41:7f3a2c1e-0000-4000-8000-000000000001"


def hrefs(html: str) -> list[str]:
    """Every href value as a mail program reads it (entities decoded)."""
    return [unescape(m.group(2)) for m in re.finditer(r"""href\s*=\s*(["'])(.*?)\1""", html, re.I)]


def target_of(link: str) -> tuple[str, str, str]:
    """(token, target, signature) of a click address."""
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC and parts.path.startswith("/c/")
    query = parse_qs(parts.query)
    return parts.path[3:], query["u"][0], query["s"][0]


def test_every_web_link_goes_through_the_public_url_and_leads_back_to_its_address():
    html = ('<p><a href="https://shop.example/cart">Cart</a> <a href="http://shop.example/a">A</a>'
            '<map><area href="https://shop.example/map" alt=""></map> <A HREF="HTTPS://SHOP.example/UP">Up</A></p>')
    out = track_html(html, public_url=PUBLIC, key=KEY, secret=SECRET)
    links = hrefs(out)
    assert len(links) == 4
    targets = [target_of(link)[1] for link in links]
    assert targets == ["https://shop.example/cart", "http://shop.example/a", "https://shop.example/map",
                       "HTTPS://SHOP.example/UP"]
    for link in links:
        token, target, signature = target_of(link)
        assert read_token(token, SECRET) == KEY
        assert verify_click(token, target, signature, SECRET)


def test_a_link_with_a_query_string_keeps_it_whole():
    target = "https://shop.example/p?id=7&utm_source=mail&q=a%20b#reviews"
    [link] = hrefs(rewrite_links(f'<a href="{target.replace("&", "&amp;")}">x</a>', PUBLIC, "tok", SECRET))
    assert target_of(link)[1] == target


def test_html_entities_in_an_address_are_read_as_the_browser_would_and_written_escaped():
    html = "<a href='https://shop.example/?a=1&amp;b=2&#38;c=3'>x</a>"
    out = rewrite_links(html, PUBLIC, "tok", SECRET)
    [link] = hrefs(out)
    assert target_of(link)[1] == "https://shop.example/?a=1&b=2&c=3"
    assert "&s=" not in out and "&amp;s=" in out        # the new href is escaped HTML


@pytest.mark.parametrize("href", [
    "mailto:hello@shop.example?subject=Hi", "tel:+4915123456789", "#top", "/relative/page", "javascript:void(0)",
    f"{PUBLIC}/u/abc", "https://shop.example/unsubscribe?c=1", "https://shop.example/email-preferences/UNSUBSCRIBE",
    "{{ unsubscribe_url }}",
])
def test_mailto_anchors_relative_links_and_unsubscribe_links_are_left_alone(href):
    html = f'<a href="{href}">link</a>'
    assert rewrite_links(html, PUBLIC, "tok", SECRET) == html


def test_links_marked_no_track_or_named_in_keep_are_left_alone():
    html = '<a data-no-track href="https://a.example/">a</a><a href="https://b.example/">b</a>'
    assert rewrite_links(html, PUBLIC, "t", SECRET) == html.replace(
        'href="https://b.example/"', f'href="{PUBLIC}/c/t?u=https%3A%2F%2Fb.example%2F&amp;s='
        f'{click_signature("t", "https://b.example/", SECRET)}"')
    assert rewrite_links(html, PUBLIC, "t", SECRET, keep=["https://b.example/"]) == html


def test_everything_but_the_rewritten_hrefs_stays_byte_for_byte():
    html = ('<!DOCTYPE html>\n<html><head><style>a{color:red}</style></head>\n<body>\u2028<p title="x href=y">'
            '<a class="btn" href="https://shop.example/" target=_blank>Go</a></p>\n'
            '<!-- <a href="https://commented.example/">old</a> -->\n'
            '<script>var s = \'<a href="https://script.example/">\';</script></body></html>')
    out = rewrite_links(html, PUBLIC, "t", SECRET)
    start = html.index('href="https://shop.example/"')
    end = start + len('href="https://shop.example/"')
    assert out[:start] == html[:start] and out.endswith(html[end:])
    assert hrefs(out)[0].startswith(f"{PUBLIC}/c/t?")
    assert "https://commented.example/" in out and "https://script.example/" in out


def test_the_open_pixel_goes_before_the_closing_body_tag_or_at_the_end():
    assert add_open_pixel("<html><body><p>Hi</p></BODY></html>", PUBLIC, "t").endswith(
        f'<img src="{PUBLIC}/o/t" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0" /></BODY></html>')
    assert add_open_pixel("<p>Hi</p>", PUBLIC, "t").startswith("<p>Hi</p><img src=")


def test_a_forged_token_or_target_is_refused():
    token = make_token(KEY, SECRET)
    signature = click_signature(token, "https://shop.example/", SECRET)
    assert verify_click(token, "https://shop.example/", signature, SECRET)
    assert not verify_click(token, "https://evil.example/", signature, SECRET)
    assert not verify_click(make_token(KEY, b"other secret"), "https://shop.example/", signature, SECRET)
    assert read_token(token[:-2], SECRET) is None and read_token("###.x", SECRET) is None


def test_without_a_public_url_or_html_nothing_changes():
    assert track_html("<a href='https://a.example'>a</a>", public_url="", key=KEY, secret=SECRET) == \
        "<a href='https://a.example'>a</a>"
    assert track_html("  ", public_url=PUBLIC, key=KEY, secret=SECRET) == "  "


def test_tracked_reads_the_scheme_not_the_case():
    assert tracked(" https://a.example ", PUBLIC) and not tracked("ftp://a.example", PUBLIC)
    assert not tracked(PUBLIC.upper() + "/x", PUBLIC)
    assert unquote("%2F") == "/"


def test_crlf_lines_repeated_links_unquoted_and_unicode_addresses_are_all_rewritten():
    html = ("<table>\r\n<tr><td>\u00e9\u2028</td></tr>\r\n"
            "<a href=https://shop.example/a?x=1&amp;y=2>one</a>\r\n"
            '<a href="https://shop.example/a?x=1&amp;y=2">again</a>\r\n'
            '<a  href = "https://shop.example/caf\u00e9/\u5e97" >caf\u00e9</a>\r\n'
            '<a href="">empty</a><a name="top">anchor</a></table>')
    out = rewrite_links(html, PUBLIC, "tok", SECRET)
    links = hrefs(out)
    assert [target_of(link)[1] for link in links[:3]] == [
        "https://shop.example/a?x=1&y=2", "https://shop.example/a?x=1&y=2", "https://shop.example/caf\u00e9/\u5e97"]
    assert links[3] == "" and '<a name="top">anchor</a>' in out
    assert out.startswith("<table>\r\n<tr><td>\u00e9\u2028</td></tr>\r\n<a href=")
    assert "%E5%BA%97" in out         # the address percent-encoded as UTF-8


def test_a_page_the_tokenizer_cannot_follow_is_sent_as_written():
    html = '<a href="https://a.example/">a</a><'   # ends inside a tag
    out = rewrite_links(html, PUBLIC, "tok", SECRET)
    assert out.endswith("<") and hrefs(out)[0].startswith(PUBLIC)
