// Signing a KVP timesheet in Java: DSSE over Ed25519 with the JDK's own provider
// (Java 15 and later), protobuf from Debian's libprotobuf-java and gRPC from its
// libgrpc-java. See ../README.md for the envelope, and run.sh for how it is built.
//
//   run.sh vectors ../dsse_vectors.json   the published vectors: every valid envelope
//                                          reproduced byte for byte, every failing one refused
//   run.sh sandbox DIR [PARTICIPANT]       a running sandbox's folder: sign a timesheet with
//                                          its keys, submit it over mutual TLS, submit it
//                                          again (a duplicate) and a tampered copy (refused)

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.EdECPrivateKeySpec;
import java.security.spec.NamedParameterSpec;
import java.security.spec.X509EncodedKeySpec;
import java.time.DayOfWeek;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import kvp.payroll.v1.Dsse;
import kvp.payroll.v1.PayrollServiceGrpc;
import kvp.payroll.v1.PayrollServiceOuterClass.SubmitTimesheetRequest;
import kvp.payroll.v1.PayrollServiceOuterClass.SubmitTimesheetResponse;
import kvp.payroll.v1.Timesheet.DateRange;
import kvp.payroll.v1.Timesheet.DayEntry;
import kvp.payroll.v1.Timesheet.DayKind;
import kvp.payroll.v1.Timesheet.TimesheetBody;

public final class KvpTimesheet {
    static final String TIMESHEET_PAYLOAD_TYPE = "application/vnd.kvp.timesheet.v1+protobuf";

    /** The DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows. */
    static final byte[] ED25519_SPKI_PREFIX = HexFormat.of().parseHex("302a300506032b6570032100");

    // --- DSSE --------------------------------------------------------------------

    /** "DSSEv1" SP len(type) SP type SP len(payload) SP payload; lengths in bytes. */
    static byte[] pae(String payloadType, byte[] payload) {
        byte[] type = payloadType.getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(("DSSEv1 " + type.length + " ").getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(type);
        out.writeBytes((" " + payload.length + " ").getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(payload);
        return out.toByteArray();
    }

    /** The private key whose 32-byte seed (RFC 8032) is given. */
    static PrivateKey privateKey(byte[] seed) throws Exception {
        return KeyFactory.getInstance("Ed25519")
                .generatePrivate(new EdECPrivateKeySpec(NamedParameterSpec.ED25519, seed));
    }

    /** The public key of its raw 32 bytes. */
    static PublicKey publicKey(byte[] raw) throws Exception {
        byte[] der = new byte[ED25519_SPKI_PREFIX.length + raw.length];
        System.arraycopy(ED25519_SPKI_PREFIX, 0, der, 0, ED25519_SPKI_PREFIX.length);
        System.arraycopy(raw, 0, der, ED25519_SPKI_PREFIX.length, raw.length);
        return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(der));
    }

    static byte[] sign(PrivateKey key, String payloadType, byte[] payload) throws Exception {
        Signature signer = Signature.getInstance("Ed25519");
        signer.initSign(key);
        signer.update(pae(payloadType, payload));
        return signer.sign();
    }

    /** DSSE JSON allows the standard and the URL-safe base64 alphabets. */
    static byte[] base64(String text) {
        boolean urlSafe = text.indexOf('-') >= 0 || text.indexOf('_') >= 0;
        return (urlSafe ? Base64.getUrlDecoder() : Base64.getDecoder()).decode(text);
    }

    /**
     * True when the DSSE JSON envelope has a signature and every signature is by a known
     * keyid and verifies over the PAE.
     */
    static boolean verifyJson(JsonObject envelope, Map<String, PublicKey> keys) {
        try {
            byte[] payload = base64(envelope.get("payload").getAsString());
            byte[] message = pae(envelope.get("payloadType").getAsString(), payload);
            JsonArray signatures = envelope.getAsJsonArray("signatures");
            if (signatures.isEmpty()) {
                return false;
            }
            for (JsonElement element : signatures) {
                JsonObject signature = element.getAsJsonObject();
                PublicKey key = keys.get(signature.get("keyid").getAsString());
                byte[] sig = base64(signature.get("sig").getAsString());
                if (key == null || sig.length != 64) {
                    return false;
                }
                Signature verifier = Signature.getInstance("Ed25519");
                verifier.initVerify(key);
                verifier.update(message);
                if (!verifier.verify(sig)) {
                    return false;
                }
            }
            return true;
        } catch (Exception refused) {
            return false;
        }
    }

    // --- the published vectors ---------------------------------------------------

    static void checkVectors(Path path) throws Exception {
        JsonObject vectors = JsonParser.parseString(Files.readString(path)).getAsJsonObject();
        Map<String, PrivateKey> privateKeys = new HashMap<>();
        Map<String, String> keyids = new HashMap<>();
        Map<String, PublicKey> publicKeys = new HashMap<>();
        for (JsonElement element : vectors.getAsJsonArray("keys")) {
            JsonObject key = element.getAsJsonObject();
            String name = key.get("name").getAsString();
            String keyid = key.get("keyid").getAsString();
            PrivateKey privateKey =
                    privateKey(HexFormat.of().parseHex(key.get("seed_hex").getAsString()));
            PublicKey publicKey =
                    publicKey(HexFormat.of().parseHex(key.get("public_key_hex").getAsString()));
            // The seed's signature verifies under the published public key.
            Signature verifier = Signature.getInstance("Ed25519");
            verifier.initVerify(publicKey);
            verifier.update(new byte[] {1, 2, 3});
            expect(verifier.verify(signRaw(privateKey, new byte[] {1, 2, 3})),
                    "the public key of " + name);
            privateKeys.put(name, privateKey);
            keyids.put(name, keyid);
            publicKeys.put(keyid, publicKey);
        }
        for (JsonElement element : vectors.getAsJsonArray("pae_cases")) {
            JsonObject pae = element.getAsJsonObject();
            byte[] payload = Base64.getDecoder().decode(pae.get("payload_base64").getAsString());
            expect(HexFormat.of().formatHex(pae(pae.get("payload_type").getAsString(), payload))
                    .equals(pae.get("pae_hex").getAsString()), "PAE");
        }
        int envelopes = 0;
        for (JsonElement element : vectors.getAsJsonArray("envelopes")) {
            JsonObject vector = element.getAsJsonObject();
            String name = vector.get("name").getAsString();
            byte[] payload = Base64.getDecoder().decode(vector.get("payload_base64").getAsString());
            String type = vector.get("payload_type").getAsString();
            JsonArray expected =
                    vector.getAsJsonObject("envelope").getAsJsonArray("signatures");
            JsonArray signers = vector.getAsJsonArray("signers");
            expect(expected.size() == signers.size(), "a signature per signer of " + name);
            for (int i = 0; i < signers.size(); i++) {
                String signer = signers.get(i).getAsString();
                JsonObject signature = expected.get(i).getAsJsonObject();
                String ours = Base64.getEncoder().encodeToString(
                        sign(privateKeys.get(signer), type, payload));
                expect(signature.get("keyid").getAsString().equals(keyids.get(signer))
                        && signature.get("sig").getAsString().equals(ours),
                        "the signature of " + signer + " in " + name);
            }
            expect(verifyJson(vector.getAsJsonObject("envelope"), publicKeys), name + " verifies");
            envelopes++;
        }
        int failing = 0;
        for (JsonElement element : vectors.getAsJsonArray("failing")) {
            JsonObject vector = element.getAsJsonObject();
            JsonObject envelope =
                    JsonParser.parseString(vector.get("envelope_json").getAsString())
                            .getAsJsonObject();
            expect(!verifyJson(envelope, publicKeys), vector.get("name").getAsString()
                    + " is refused (" + vector.get("must_fail").getAsString() + ")");
            failing++;
        }
        System.out.println("java: " + envelopes + " envelopes reproduced byte for byte, "
                + failing + " failing envelopes refused");
    }

    static byte[] signRaw(PrivateKey key, byte[] message) throws Exception {
        Signature signer = Signature.getInstance("Ed25519");
        signer.initSign(key);
        signer.update(message);
        return signer.sign();
    }

    // --- against a sandbox -------------------------------------------------------

    /** A key file of the sandbox: base64 of the 32-byte Ed25519 private key (the seed). */
    static PrivateKey readKey(Path path) throws Exception {
        return privateKey(Base64.getDecoder().decode(Files.readString(path).trim()));
    }

    static Dsse.Envelope envelope(byte[] payload, List<String> keyids, List<byte[]> sigs) {
        Dsse.Envelope.Builder envelope = Dsse.Envelope.newBuilder()
                .setPayload(ByteString.copyFrom(payload))
                .setPayloadType(TIMESHEET_PAYLOAD_TYPE);
        for (int i = 0; i < keyids.size(); i++) {
            envelope.addSignatures(Dsse.Signature.newBuilder()
                    .setKeyid(keyids.get(i))
                    .setSig(ByteString.copyFrom(sigs.get(i))));
        }
        return envelope.build();
    }

    static void submitToSandbox(Path folder, int participantIndex) throws Exception {
        JsonObject manifest =
                JsonParser.parseString(Files.readString(folder.resolve("sandbox.json")))
                        .getAsJsonObject();
        JsonObject participant =
                manifest.getAsJsonArray("participants").get(participantIndex).getAsJsonObject();
        JsonObject participantSigner = participant.getAsJsonObject("signer");
        JsonObject supervisor = manifest.getAsJsonObject("supervisor");
        LocalDate today = LocalDate.parse(manifest.get("today").getAsString());
        LocalDate first = today.withDayOfMonth(1);
        LocalDate last = today.withDayOfMonth(today.lengthOfMonth());
        LocalDate workDay = first;
        while (workDay.getDayOfWeek() == DayOfWeek.SATURDAY
                || workDay.getDayOfWeek() == DayOfWeek.SUNDAY) {
            workDay = workDay.plusDays(1);
        }
        byte[] payload = TimesheetBody.newBuilder()
                .setParticipantId(participant.get("id").getAsString())
                .setMunicipalityId(manifest.get("municipality_id").getAsString())
                .setPeriod(DateRange.newBuilder()
                        .setFromDate(first.toString())
                        .setToDate(last.toString()))
                .addEntries(DayEntry.newBuilder()
                        .setDate(workDay.toString())
                        .setKind(DayKind.DAY_KIND_PAID_WORK)
                        .setHours("2.5"))
                .setClientReference("java-recipe")
                .build()
                .toByteArray();
        List<String> keyids = List.of(
                participantSigner.get("keyid").getAsString(),
                supervisor.get("keyid").getAsString());
        List<PrivateKey> keys = List.of(
                readKey(folder.resolve(participantSigner.get("private_key").getAsString())),
                readKey(folder.resolve(supervisor.get("private_key").getAsString())));
        List<byte[]> signatures = new ArrayList<>();
        for (PrivateKey key : keys) {
            signatures.add(sign(key, TIMESHEET_PAYLOAD_TYPE, payload));
        }

        JsonObject certificates =
                manifest.getAsJsonObject("certificates").getAsJsonObject("timesheet_client");
        URI grpc = URI.create(manifest.get("grpc_url").getAsString());
        ManagedChannel channel = NettyChannelBuilder.forAddress(grpc.getHost(), grpc.getPort())
                .sslContext(GrpcSslContexts.forClient()
                        .trustManager(folder.resolve(manifest.get("ca").getAsString()).toFile())
                        .keyManager(
                                folder.resolve(certificates.get("cert").getAsString()).toFile(),
                                folder.resolve(certificates.get("key").getAsString()).toFile())
                        .build())
                .build();
        try {
            PayrollServiceGrpc.PayrollServiceBlockingStub stub =
                    PayrollServiceGrpc.newBlockingStub(channel);
            SubmitTimesheetRequest request = SubmitTimesheetRequest.newBuilder()
                    .setEnvelope(envelope(payload, keyids, signatures))
                    .build();
            SubmitTimesheetResponse accepted =
                    stub.withDeadlineAfter(30, TimeUnit.SECONDS).submitTimesheet(request);
            expect(!accepted.getDuplicate(), "the first submission is new");
            String digest = HexFormat.of().formatHex(
                    MessageDigest.getInstance("SHA-256").digest(payload));
            expect(accepted.getDigest().equals(digest),
                    "the service keys the timesheet on the SHA-256 of the payload");
            SubmitTimesheetResponse again =
                    stub.withDeadlineAfter(30, TimeUnit.SECONDS).submitTimesheet(request);
            expect(again.getDuplicate()
                    && again.getTimesheetId().equals(accepted.getTimesheetId()),
                    "the same payload again is answered as a duplicate");
            byte[] tampered = payload.clone();
            tampered[tampered.length - 1] ^= 1;
            try {
                stub.withDeadlineAfter(30, TimeUnit.SECONDS).submitTimesheet(
                        SubmitTimesheetRequest.newBuilder()
                                .setEnvelope(envelope(tampered, keyids, signatures))
                                .build());
                expect(false, "a tampered payload is refused");
            } catch (StatusRuntimeException refused) {
                expect(refused.getStatus().getCode() == Status.Code.UNAUTHENTICATED,
                        "a tampered payload is UNAUTHENTICATED, not "
                                + refused.getStatus().getCode());
            }
            System.out.println("java: timesheet " + accepted.getTimesheetId()
                    + " accepted by the sandbox, its retry answered as a duplicate,"
                    + " a tampered copy refused");
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    static void expect(boolean condition, String what) {
        if (!condition) {
            System.err.println("java recipe: not so: " + what);
            System.exit(1);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length >= 2 && args[0].equals("vectors")) {
            checkVectors(Path.of(args[1]));
        } else if (args.length >= 2 && args[0].equals("sandbox")) {
            submitToSandbox(Path.of(args[1]), args.length > 2 ? Integer.parseInt(args[2]) : 2);
        } else {
            System.err.println("usage: KvpTimesheet vectors FILE | sandbox DIR [PARTICIPANT]");
            System.exit(2);
        }
    }
}
