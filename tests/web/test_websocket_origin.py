"""A live page's socket is opened from this site's own address, port included (the QA found localhost:9999 let in on
port 8391: channels' validator compares host names only)."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator

from parcours.websocket_origin import same_origin


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("https://parcours.example.org", "parcours.example.org", True),
        ("https://parcours.example.org:443", "parcours.example.org", True),
        ("HTTPS://Parcours.Example.org", "parcours.example.org", True),
        ("http://localhost:9999", "localhost:8391", False),  # another program on the same host name
        ("http://localhost", "localhost:8391", False),
        ("https://parcours.example.org", "parcours.example.org:8443", False),
        ("http://parcours.example.org.evil.test", "parcours.example.org", False),
        ("null", "parcours.example.org", False),
        ("http://localhost:abc", "localhost", False),
        ("ftp://parcours.example.org", "parcours.example.org", False),
        ("http://[::1]:8000", "[::1]:8000", True),
    ],
)
def test_an_origin_is_this_site_with_its_port(origin, host, same):
    assert same_origin(origin, host) is same


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("origin", "code"), [("http://testserver:9999", 1000), ("http://testserver", 4401)])
def test_the_socket_of_another_port_is_refused_before_anything_else(origin, code):
    from parcours.asgi import application

    async def connect():
        communicator = WebsocketCommunicator(
            application, "/ws/notifications/", headers=[(b"origin", origin.encode()), (b"host", b"testserver")]
        )
        connected, closing = await communicator.connect(timeout=10)
        return connected, closing

    # Refused at the handshake (1000), or let through to the sign-in check (4401: nobody signed in).
    assert async_to_sync(connect)() == (False, code)
