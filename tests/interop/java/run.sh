#!/usr/bin/env bash
# Builds and runs the Java recipe: the payroll protos compiled with protoc and gRPC's
# Java plugin, KvpTimesheet.java compiled against Debian's jars, then run with the
# arguments given (see KvpTimesheet.java). Needs a JDK of 17 or later and the Debian
# packages named in ../README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
proto=$(cd "$here/../../../proto" && pwd)
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT

# Debian's jars: protobuf, gRPC over Netty, and what they need.
jars=(protobuf grpc-api grpc-context grpc-core grpc-netty grpc-protobuf grpc-protobuf-lite
      grpc-stub guava gson perfmark-api geronimo-annotation-1.3-spec netty-buffer netty-codec
      netty-codec-http netty-codec-http2 netty-codec-socks netty-common netty-handler
      netty-handler-proxy netty-resolver netty-transport netty-tcnative)
classpath=""
for jar in "${jars[@]}"; do
    path=/usr/share/java/$jar.jar
    [ -f "$path" ] || { echo "java recipe: $path is missing (see tests/interop/README.md)" >&2; exit 1; }
    classpath+="$path:"
done

mkdir -p "$build/src" "$build/classes"
# (protoc warns that PayRun.held and held_count would both make getHeldCount(); the
# Java code generator names them by field number instead: getHeld12List(),
# getHeldCount11().)
protoc -I "$proto" -I /usr/include \
    --java_out="$build/src" \
    --plugin=protoc-gen-grpc-java=/usr/bin/grpc_java_plugin --grpc-java_out="$build/src" \
    "$proto"/kvp/payroll/v1/*.proto
javac -nowarn -encoding UTF-8 -d "$build/classes" -cp "$classpath" \
    $(find "$build/src" -name '*.java') "$here/KvpTimesheet.java"
# TLS through OpenSSL (netty-tcnative): Debian's Netty 4.1.48 refuses ALPN, which HTTP/2
# needs, with the JDK's own TLS. Its loader looks for libnetty_tcnative.so and checks
# the path it was loaded from, so the library is copied under that name, not linked.
mkdir -p "$build/lib"
cp /usr/lib/x86_64-linux-gnu/jni/libnetty-tcnative.so "$build/lib/libnetty_tcnative.so"
java -Djava.library.path="$build/lib" -cp "$build/classes:$classpath" KvpTimesheet "$@"
