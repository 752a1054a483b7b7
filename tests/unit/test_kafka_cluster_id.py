"""The broker's cluster id never starts with "-" (the storage tool reads that as an option)."""

from __future__ import annotations

import base64

from services.stack.kafka import new_cluster_id


def test_an_id_starting_with_a_dash_is_drawn_again() -> None:
    dash_first = bytes([0xF8]) + bytes(15)  # 0b111110.. encodes as "-" in base64url
    plain = bytes(range(16))
    assert base64.urlsafe_b64encode(dash_first).decode().startswith("-")
    draws = iter([dash_first, dash_first, plain])

    cluster_id = new_cluster_id(lambda: next(draws))

    assert cluster_id == base64.urlsafe_b64encode(plain).decode().rstrip("=")
    assert next(draws, None) is None


def test_random_ids_are_22_base64url_characters_without_a_leading_dash() -> None:
    ids = {new_cluster_id() for _ in range(2000)}

    assert len(ids) == 2000
    for cluster_id in ids:
        assert len(cluster_id) == 22
        assert not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
