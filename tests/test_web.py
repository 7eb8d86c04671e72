"""The web app serves its own assets (uvicorn serves no files) and answers health checks."""


def test_health(client, db):
    assert client.get("/health").json() == {"ok": True}


def test_dashboard_css_and_api_docs_assets_are_served_without_a_cdn(client, db):
    assert client.get("/static/koppel/dashboard.css").status_code == 200
    docs = client.get("/api/docs").content.decode()
    assert "cdn." not in docs
    assert client.get("/static/ninja/swagger-ui-bundle.js").status_code == 200


def test_static_files_come_from_the_app_through_real_http(koppel_web):
    """Served by WhiteNoise from the apps' folders (no collectstatic, no CDN, no Django ``serve``)."""
    import httpx

    css = httpx.get(f"{koppel_web.url}/static/koppel/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    chart = httpx.get(f"{koppel_web.url}/static/koppel/vendor/chartjs/chart.umd.min.js")
    assert chart.status_code == 200 and b"Chart" in chart.content[:2000]
    assert httpx.get(f"{koppel_web.url}/static/koppel/nope.css").status_code == 404
