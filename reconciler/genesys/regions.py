"""Genesys Cloud regions: region name -> API and login base URLs.

Pure data. The 18 regions of the official SDK's ``PureCloudRegionHosts`` (also
the Terraform provider's region map). The login host is the API host with
``api.`` replaced by ``login.``.
"""

from __future__ import annotations

__all__ = ["REGION_DOMAINS", "api_url", "login_url"]

REGION_DOMAINS: dict[str, str] = {
    "us-east-1": "mypurecloud.com",
    "us-east-2": "use2.us-gov-pure.cloud",
    "us-west-2": "usw2.pure.cloud",
    "ca-central-1": "cac1.pure.cloud",
    "sa-east-1": "sae1.pure.cloud",
    "mx-central-1": "mxc1.pure.cloud",
    "eu-west-1": "mypurecloud.ie",
    "eu-west-2": "euw2.pure.cloud",
    "eu-central-1": "mypurecloud.de",
    "eu-central-2": "euc2.pure.cloud",
    "eusc-de-east-1": "edee1.eusc-pure.cloud",
    "me-central-1": "mec1.pure.cloud",
    "ap-south-1": "aps1.pure.cloud",
    "ap-southeast-1": "apse1.pure.cloud",
    "ap-southeast-2": "mypurecloud.com.au",
    "ap-northeast-1": "mypurecloud.jp",
    "ap-northeast-2": "apne2.pure.cloud",
    "ap-northeast-3": "apne3.pure.cloud",
}


def api_url(region: str) -> str:
    return f"https://api.{REGION_DOMAINS[region]}"


def login_url(region: str) -> str:
    return f"https://login.{REGION_DOMAINS[region]}"
