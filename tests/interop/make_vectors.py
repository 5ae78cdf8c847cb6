#!/usr/bin/env python3
"""DSSE test vectors for timesheet signing, made with an independent implementation.

The envelopes in dsse_vectors.json are signed by securesystemslib's DSSE implementation
(securesystemslib.dsse.Envelope) with Ed25519 keys from pyca/cryptography (OpenSSL), not
by our Rust code. They are published for integrators: a signer in any language must
reproduce the valid envelopes byte for byte (Ed25519 is deterministic) and its verifier
must refuse every envelope under "failing", each of which carries the reason. The Rust
tests (crates/signing/tests/signing.rs) and the recipes beside this file (python/,
java/) read only the JSON file; this script is needed only to regenerate or to
cross-check.

Everything is deterministic: keys come from fixed seeds (SHA-256 of a label) and Ed25519
signatures are deterministic (RFC 8032), so regenerating gives the same file apart from
the recorded library versions.

Regenerate (from the repository root):

    python3 -m venv /tmp/dsse-venv
    /tmp/dsse-venv/bin/pip install securesystemslib cryptography
    /tmp/dsse-venv/bin/python tests/interop/make_vectors.py

Check that securesystemslib accepts an envelope written by the Rust code (DSSE JSON,
signed with the vector keys below):

    /tmp/dsse-venv/bin/python tests/interop/make_vectors.py --verify FILE
"""

import argparse
import base64
import copy
import hashlib
import json
import sys
from importlib.metadata import version
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner, SSlibKey

OUT = Path(__file__).with_name("dsse_vectors.json")

TIMESHEET_PAYLOAD_TYPE = "application/vnd.kvp.timesheet.v1+protobuf"

# Opaque bytes standing in for a serialized TimesheetBody. Hand-written protobuf
# framing (field 1 "participant-0001", field 2 "2024-09", field 3 four raw bytes) so the
# payload holds a NUL, bytes that are not UTF-8, and encodes to base64 with both `+`
# and `/` (where the standard and URL-safe alphabets differ).
PAYLOAD = (
    b"\x0a\x10participant-0001"
    + b"\x12\x072024-09"
    + b"\x1a\x04\x00\xfb\xff\xbf"
)

# (name, keyid, seed label): seed = SHA-256(label).
SIGNERS = [
    ("participant", "participant-1", b"kvp-signing interop vector: participant"),
    ("supervisor", "supervisor-1", b"kvp-signing interop vector: supervisor"),
    ("provider", "provider-1", b"kvp-signing interop vector: provider"),
]

ENVELOPES = [
    ("participant_only", ["participant"]),
    ("participant_and_supervisor", ["participant", "supervisor"]),
    ("participant_supervisor_and_provider", ["participant", "supervisor", "provider"]),
]

# PAE cases: the example from the DSSE protocol, an empty body, a payload type whose
# byte length differs from its character count, and a body that looks like PAE syntax.
PAE_CASES = [
    ("http://example.com/HelloWorld", b"hello world"),
    (TIMESHEET_PAYLOAD_TYPE, b""),
    ("application/vnd.kvp.prøve+json", b"{}"),
    (TIMESHEET_PAYLOAD_TYPE, b"11 DSSEv1 0 \x00"),
]


# Envelopes a verifier must refuse: (name, why, payload type, how it is made). Each is
# made from the participant's valid signature over PAYLOAD unless it says otherwise.
FAILING = [
    (
        "payload_changed_after_signing",
        "the payload's last byte was changed after the participant signed it",
    ),
    (
        "payload_type_changed_after_signing",
        "the payload type was changed to v2 after signing; PAE covers the type",
    ),
    (
        "signed_without_pae",
        "the signature is over the payload alone, not its pre-authentication encoding",
    ),
    (
        "pae_counting_characters",
        "the PAE gave the payload type's length in characters (30), not in UTF-8 bytes (31)",
    ),
    (
        "keyid_of_another_key",
        "the signature names the participant's keyid but was made with the provider's key",
    ),
    (
        "signature_truncated",
        "the signature lacks its last byte (63 bytes; Ed25519 signatures have 64)",
    ),
    (
        "no_signatures",
        "the envelope carries no signature at all",
    ),
]


def b64(data: bytes) -> str:
    return base64.standard_b64encode(data).decode("ascii")


def make_keys():
    keys = {}
    for name, keyid, label in SIGNERS:
        seed = hashlib.sha256(label).digest()
        private = Ed25519PrivateKey.from_private_bytes(seed)
        public = SSlibKey.from_crypto(private.public_key(), keyid=keyid)
        keys[name] = {
            "keyid": keyid,
            "seed": seed,
            "private": private,
            "public": public,
            "signer": CryptoSigner(private, public),
        }
    return keys


def compact(data) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def generate() -> None:
    keys = make_keys()
    vectors = {
        "about": (
            "DSSE v1 envelopes signed by securesystemslib.dsse.Envelope with Ed25519; "
            "generated by make_vectors.py in this folder, do not edit by hand"
        ),
        "generator": {
            "securesystemslib": version("securesystemslib"),
            "cryptography": version("cryptography"),
        },
        "keys": [],
        "pae_cases": [],
        "envelopes": [],
    }

    for name, key in keys.items():
        public_raw = key["private"].public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        public_pem = key["private"].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        assert key["public"].keyval["public"] == public_raw.hex()
        vectors["keys"].append(
            {
                "name": name,
                "keyid": key["keyid"],
                "seed_hex": key["seed"].hex(),
                "public_key_hex": public_raw.hex(),
                "public_key_base64": b64(public_raw),
                "public_key_pem": public_pem.decode("ascii"),
            }
        )

    for payload_type, payload in PAE_CASES:
        envelope = Envelope(payload, payload_type, {})
        vectors["pae_cases"].append(
            {
                "payload_type": payload_type,
                "payload_base64": b64(payload),
                "pae_hex": envelope.pae().hex(),
            }
        )

    assert "+" in b64(PAYLOAD) and "/" in b64(PAYLOAD), b64(PAYLOAD)
    for name, signer_names in ENVELOPES:
        envelope = Envelope(PAYLOAD, TIMESHEET_PAYLOAD_TYPE, {})
        for signer_name in signer_names:
            envelope.sign(keys[signer_name]["signer"])
        as_dict = envelope.to_dict()
        as_json = compact(as_dict)

        # Read back what was written and verify it with securesystemslib itself.
        reread = Envelope.from_dict(json.loads(as_json))
        assert reread == envelope
        accepted = reread.verify(
            [keys[n]["public"] for n in signer_names], threshold=len(signer_names)
        )
        assert sorted(accepted) == sorted(keys[n]["keyid"] for n in signer_names)

        vectors["envelopes"].append(
            {
                "name": name,
                "signers": signer_names,
                "payload_type": TIMESHEET_PAYLOAD_TYPE,
                "payload_base64": b64(PAYLOAD),
                "payload_sha256": hashlib.sha256(PAYLOAD).hexdigest(),
                "pae_hex": envelope.pae().hex(),
                "envelope": as_dict,
                "envelope_json": as_json,
            }
        )

    vectors["failing"] = failing_envelopes(keys)
    OUT.write_text(json.dumps(vectors, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


def failing_envelopes(keys):
    participant, provider = keys["participant"], keys["provider"]
    failing = []
    for name, why in FAILING:
        payload_type, payload = TIMESHEET_PAYLOAD_TYPE, PAYLOAD
        keyid = participant["keyid"]
        pae = Envelope(payload, payload_type, {}).pae()
        signature = participant["private"].sign(pae)
        if name == "payload_changed_after_signing":
            payload = payload[:-1] + bytes([payload[-1] ^ 1])
        elif name == "payload_type_changed_after_signing":
            payload_type = "application/vnd.kvp.timesheet.v2+protobuf"
        elif name == "signed_without_pae":
            signature = participant["private"].sign(payload)
        elif name == "pae_counting_characters":
            payload_type = "application/vnd.kvp.prøve+json"
            payload = b'{"hours":"7.5"}'
            wrong = b"DSSEv1 %d %s %d %s" % (
                len(payload_type),
                payload_type.encode("utf-8"),
                len(payload),
                payload,
            )
            assert len(payload_type) + 1 == len(payload_type.encode("utf-8"))
            signature = participant["private"].sign(wrong)
        elif name == "keyid_of_another_key":
            signature = provider["private"].sign(pae)
        elif name == "signature_truncated":
            signature = signature[:-1]
        signatures = [] if name == "no_signatures" else [
            {"keyid": keyid, "sig": b64(signature)}
        ]
        envelope = {
            "payload": b64(payload),
            "payloadType": payload_type,
            "signatures": signatures,
        }
        # securesystemslib must refuse it too.
        public_keys = [key["public"] for key in keys.values()]
        try:
            # from_dict consumes the signature dictionaries it is given.
            Envelope.from_dict(copy.deepcopy(envelope)).verify(public_keys, threshold=1)
        except Exception:  # noqa: BLE001 - any refusal is the expected outcome
            pass
        else:
            raise AssertionError(f"securesystemslib accepted {name}")
        failing.append(
            {
                "name": name,
                "must_fail": why,
                "signers": ["participant"],
                "envelope": envelope,
                "envelope_json": compact(envelope),
            }
        )
    return failing


def verify(path: Path) -> int:
    keys = make_keys()
    envelope = Envelope.from_dict(json.loads(path.read_text(encoding="utf-8")))
    public_keys = [key["public"] for key in keys.values()]
    accepted = envelope.verify(public_keys, threshold=len(envelope.signatures))
    print(f"securesystemslib accepts {path}: signed by {', '.join(sorted(accepted))}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--verify",
        type=Path,
        metavar="FILE",
        help="verify a DSSE JSON envelope signed with the vector keys instead of generating",
    )
    args = parser.parse_args()
    if args.verify:
        return verify(args.verify)
    generate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
