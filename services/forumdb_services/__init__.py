"""The three forum services (users, threads, posts): the Flask app, its blueprints, the
storage layer (DynamoDB or local JSON files) and the config sync the chart can run beside them."""
