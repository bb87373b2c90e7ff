"""Each cloud's signer against its published worked example, byte for byte: canonical
request, string to sign, signature (and the Authorization header built from them)."""

from __future__ import annotations

from balancebot.providers.aliyun.sign import sign as acs3
from balancebot.providers.signing import EMPTY_SHA256
from balancebot.providers.tencentcloud.sign import sign as tc3
from balancebot.providers.volcengine.sign import sign as volc


def test_tc3_reproduces_tencent_clouds_published_example() -> None:
    """Tencent's "签名方法 v3" / "Signature v3" (cloud.tencent.com/document/api/213/30654):
    CVM DescribeInstances at 1551113065. The page gives the SecretKey in full
    (`Gu5t9xGARNpq86cd98joQYCN3EXAMPLE`, in its key-derivation step) and every
    intermediate value; its current Authorization line masks the SecretId
    (`AKID***…0123456789EXAMPLE`), which the signature does not depend on, so the
    SecretId of its earlier revision is used here."""
    payload = (
        b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    )
    signed = tc3(
        secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        secret_key="Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        service="cvm",
        timestamp=1551113065,
        method="POST",
        query="",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Host": "cvm.tencentcloudapi.com",
        },
        payload=payload,
    )
    assert signed.canonical_request == (
        "POST\n/\n\n"
        "content-type:application/json; charset=utf-8\n"
        "host:cvm.tencentcloudapi.com\n\n"
        "content-type;host\n"
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    assert signed.string_to_sign == (
        "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
        "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
    )
    assert signed.signature == "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    assert signed.authorization == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/"
        "tc3_request, SignedHeaders=content-type;host, Signature="
        "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )


def test_acs3_reproduces_alibaba_clouds_published_example() -> None:
    """Alibaba Cloud's "V3版本请求体&签名机制" (help.aliyun.com/zh/sdk/product-overview/
    v3-request-structure-and-signature), its fixed-parameter example: ECS RunInstances."""
    signed = acs3(
        access_key_id="YourAccessKeyId",
        access_key_secret="YourAccessKeySecret",
        method="POST",
        path="/",
        query="ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai",
        headers={
            "host": "ecs.cn-shanghai.aliyuncs.com",
            "x-acs-action": "RunInstances",
            "x-acs-content-sha256": EMPTY_SHA256,
            "x-acs-date": "2023-10-26T10:22:32Z",
            "x-acs-signature-nonce": "3156853299f313e23d1673dc12e1703d",
            "x-acs-version": "2014-05-26",
        },
        payload_hash=EMPTY_SHA256,
    )
    assert signed.canonical_request == (
        "POST\n/\n"
        "ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai\n"
        "host:ecs.cn-shanghai.aliyuncs.com\n"
        "x-acs-action:RunInstances\n"
        "x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        "x-acs-date:2023-10-26T10:22:32Z\n"
        "x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\n"
        "x-acs-version:2014-05-26\n\n"
        "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert signed.string_to_sign == (
        "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
    )
    assert signed.signature == "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    assert signed.authorization == (
        "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;"
        "x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,"
        "Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
    )


def test_volcengine_reproduces_its_published_example() -> None:
    """Volcengine's "签名方法" (volcengine.com/docs/6369/67269): its GET example, which is
    billing's QueryBalanceAcct itself; and the ListUsers walk-through of "签名过程 Demo"
    (docs/6369/67270). Both publish the Secret Access Key in full. The 67269 values were
    read as several public repositories quote them (the stored copy of that page could
    not be read whole); 67270's request, key and canonical request were read on the page,
    its signature as those repositories quote it. Both reproduce here."""
    signed = volc(
        access_key_id="AKLTYWViMTVmZGYzM2E0NDI5Mzk2MDZjNjFmMjc2MjRjMzg",
        secret_access_key="WkRZeE1EQmxPVGhsWWpWak5HVmtNbUUxTXpZeU9UVXlOMlE1TmpZeVlqTQ==",
        region="cn-beijing",
        service="billing",
        x_date="20250329T180937Z",
        method="GET",
        query="Action=QueryBalanceAcct&Version=2022-01-01",
        headers={"Host": "billing.volcengineapi.com", "X-Date": "20250329T180937Z"},
        payload=b"",
    )
    assert signed.canonical_request == (
        "GET\n/\nAction=QueryBalanceAcct&Version=2022-01-01\n"
        "host:billing.volcengineapi.com\nx-date:20250329T180937Z\n\n"
        "host;x-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert signed.string_to_sign == (
        "HMAC-SHA256\n20250329T180937Z\n20250329/cn-beijing/billing/request\n"
        "43171c1658c64b5db55c58d54988a4598d2d09a5613136beaa5eef40eae6e2c1"
    )
    assert signed.signature == "1eda9e7e6b1728151a8e8791fdaf67cfbd28bd5c80d0fce2eb208746cf483105"
    assert signed.authorization == (
        "HMAC-SHA256 Credential=AKLTYWViMTVmZGYzM2E0NDI5Mzk2MDZjNjFmMjc2MjRjMzg/20250329/"
        "cn-beijing/billing/request, SignedHeaders=host;x-date, "
        "Signature=1eda9e7e6b1728151a8e8791fdaf67cfbd28bd5c80d0fce2eb208746cf483105"
    )

    listing = volc(
        access_key_id="AKLTYWViMTVmZGYzM2E0NDI5Mzk2MDZjNjFmMjc2MjRjMzg",
        secret_access_key="WkRZeE1EQmxPVGhsWWpWak5HVmtNbUUxTXpZeU9UVXlOMlE1TmpZeVlqTQ==",
        region="cn-beijing",
        service="iam",
        x_date="20240619T071306Z",
        method="GET",
        query="Action=ListUsers&Limit=10&Offset=0&Version=2018-01-01",
        headers={"Host": "iam.volcengineapi.com", "X-Date": "20240619T071306Z"},
        payload=b"",
    )
    assert listing.string_to_sign == (
        "HMAC-SHA256\n20240619T071306Z\n20240619/cn-beijing/iam/request\n"
        "5ed5bca3905e1fcbf789abb56a17c2d819674a3bcfa468ae476bd1ea80d135cb"
    )
    assert listing.signature == "e31c4558bcfe08a286001f59cedbf0791ffd0b2362f10e55ee2627467bcdde93"
