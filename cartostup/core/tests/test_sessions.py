import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("cookie", ["abc\x00defghijkl", "ééééééééééé", "a" * 8 + ";x"])
def test_a_malformed_session_cookie_is_no_session(client, cookie):
    client.cookies["sessionid"] = cookie
    response = client.get("/api/v1/operations/")
    # Anonymous: 401 with the token scheme's challenge (403 before API tokens existed).
    assert response.status_code == 401
    assert client.get("/").status_code == 302
