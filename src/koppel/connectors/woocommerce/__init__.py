"""WooCommerce (REST API v3 and its webhooks) as a source of orders."""
