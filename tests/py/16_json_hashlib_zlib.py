"""Round trips: json of a nested structure, zlib/gzip/bz2/lzma compress and
decompress 1 MB, hashlib digests of known inputs, base64."""
import base64
import bz2
import gzip
import hashlib
import json
import lzma
import zlib

obj = {"name": "moat", "n": [1, 2.5, None, True], "nested": {"k%d" % i: list(range(i)) for i in range(5)}, "u": "\u00e9\u4e2d"}
s = json.dumps(obj, sort_keys=True)
print(s)
print("json round trip", json.loads(s) == obj)
data = b"".join(b"line %06d of the corpus\n" % i for i in range(40000))
print("data", len(data), hashlib.sha256(data).hexdigest())
for name, c, d in [("zlib", zlib.compress, zlib.decompress), ("gzip", lambda b: gzip.compress(b, mtime=0), gzip.decompress),
                   ("bz2", bz2.compress, bz2.decompress), ("lzma", lzma.compress, lzma.decompress)]:
    z = c(data)
    print(name, "round trip", d(z) == data, "smaller", len(z) < len(data) // 4)
print("zlib bytes", len(zlib.compress(data, 9)), "crc32", zlib.crc32(data), "adler32", zlib.adler32(data))
for algo in ["md5", "sha1", "sha256", "sha512", "blake2b", "sha3_256"]:
    print(algo, hashlib.new(algo, b"abc").hexdigest()[:32])
print("pbkdf2", hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 1000).hex()[:32])
print("base64", base64.b64encode(b"\x00\xffmoat").decode(), base64.b64decode("AP9tb2F0"))
