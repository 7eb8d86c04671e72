"""The web app serves its own assets (uvicorn serves no files) and answers health checks."""


def test_health(client, db):
    assert client.get("/health").json() == {"ok": True}


def test_dashboard_css_and_api_docs_assets_are_served_without_a_cdn(client, db):
    assert client.get("/static/koppel/dashboard.css").status_code == 200
    docs = client.get("/api/docs").content.decode()
    assert "cdn." not in docs
    assert client.get("/static/ninja/swagger-ui-bundle.js").status_code == 200
