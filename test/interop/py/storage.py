"""delta-rs storage options for a table URI: for s3:// (and s3a://) the S3 settings of
the standard AWS environment, as Tributary reads them (docs/storage.md): the endpoint
from AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or TRIBUTARY_S3_ENDPOINT (plain HTTP allowed
for a test server), the region (default us-east-1) and static keys. None for paths.
"""

import os


def storage_options(uri):
    if not uri.startswith(("s3://", "s3a://")):
        return None
    env = os.environ
    opts = {"AWS_REGION": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or env.get("TRIBUTARY_S3_ENDPOINT")
    if endpoint:
        opts["AWS_ENDPOINT_URL"] = endpoint
        if endpoint.startswith("http://"):
            opts["AWS_ALLOW_HTTP"] = "true"
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if env.get(key):
            opts[key] = env[key]
    return opts
