import java.io.BufferedReader;
import java.io.File;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;

import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.OutputKeys;
import javax.xml.transform.Transformer;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;

import org.apache.ws.security.WSConstants;
import org.apache.ws.security.WSDataRef;
import org.apache.ws.security.WSEncryptionPart;
import org.apache.ws.security.WSSConfig;
import org.apache.ws.security.WSSecurityEngine;
import org.apache.ws.security.WSSecurityEngineResult;
import org.apache.ws.security.components.crypto.Merlin;
import org.apache.ws.security.message.WSSecHeader;
import org.apache.ws.security.message.WSSecSignature;
import org.apache.ws.security.message.WSSecTimestamp;
import org.w3c.dom.Document;

/**
 * Apache WSS4J 1.6 (Debian's libwss4j-java) as an office system uses it, for the interop tests.
 * One command per line on stdin, one answer line on stdout ("ok ..." or "error ..."):
 *
 *   sign KEYSTORE.p12 PASSWORD ALIAS KEYID SIGALG DIGEST IN OUT
 *       WSSecTimestamp + WSSecSignature over the Timestamp and the Body. KEYID is default,
 *       BST, IssuerSerial, SKI or Thumbprint; SIGALG and DIGEST are URIs or "default"
 *       (WSS4J's own: RSA-SHA1 and SHA-1). Everything else is WSS4J's default.
 *   verify TRUSTED.pem IN
 *       WSSecurityEngine.processSecurityHeader with the PEM certificate as the only trust
 *       anchor; answers "ok" with the local names of the signed elements and the subject.
 */
public final class Wss4jPeer {
    private static final String KEYSTORE_TYPE = "PKCS12";

    public static void main(String[] args) throws Exception {
        WSSConfig.init();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
        PrintStream out = new PrintStream(System.out, true, "UTF-8");
        for (String line; (line = in.readLine()) != null; ) {
            String[] w = line.trim().split(" ");
            try {
                if (w[0].equals("sign") && w.length == 9) {
                    sign(w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8]);
                    out.println("ok");
                } else if (w[0].equals("verify") && w.length == 3) {
                    out.println("ok " + verify(w[1], w[2]));
                } else {
                    out.println("error unknown command: " + line);
                }
            } catch (Throwable e) {
                out.println("error " + e.getClass().getSimpleName() + ": " + String.valueOf(e.getMessage()).replace('\n', ' '));
            }
        }
    }

    static void sign(String p12, String password, String alias, String keyId, String sigAlg, String digest,
                     String inPath, String outPath) throws Exception {
        KeyStore keys = KeyStore.getInstance(KEYSTORE_TYPE);
        try (FileInputStream stream = new FileInputStream(p12)) {
            keys.load(stream, password.toCharArray());
        }
        Merlin crypto = new Merlin();
        crypto.setKeyStore(keys);

        Document doc = parse(inPath);
        WSSecHeader header = new WSSecHeader();
        header.setMustUnderstand(true);
        header.insertSecurityHeader(doc);

        WSSecTimestamp timestamp = new WSSecTimestamp();
        timestamp.setTimeToLive(300);
        timestamp.build(doc, header);

        WSSecSignature signature = new WSSecSignature();
        signature.setUserInfo(alias, password);
        if (!keyId.equals("default")) {
            signature.setKeyIdentifierType(keyIdentifier(keyId));
        }
        if (!sigAlg.equals("default")) {
            signature.setSignatureAlgorithm(sigAlg);
        }
        if (!digest.equals("default")) {
            signature.setDigestAlgo(digest);
        }
        String soapNs = doc.getDocumentElement().getNamespaceURI();
        List<WSEncryptionPart> parts = new ArrayList<WSEncryptionPart>();
        parts.add(new WSEncryptionPart(WSConstants.TIMESTAMP_TOKEN_LN, WSConstants.WSU_NS, ""));
        parts.add(new WSEncryptionPart(WSConstants.ELEM_BODY, soapNs, ""));
        signature.setParts(parts);
        signature.build(doc, crypto, header);
        write(doc, outPath);
    }

    static int keyIdentifier(String name) {
        if (name.equals("BST")) return WSConstants.BST_DIRECT_REFERENCE;
        if (name.equals("IssuerSerial")) return WSConstants.ISSUER_SERIAL;
        if (name.equals("SKI")) return WSConstants.SKI_KEY_IDENTIFIER;
        if (name.equals("Thumbprint")) return WSConstants.THUMBPRINT_IDENTIFIER;
        throw new IllegalArgumentException("key identifier " + name);
    }

    static String verify(String trustedPem, String inPath) throws Exception {
        X509Certificate trusted;
        try (FileInputStream stream = new FileInputStream(trustedPem)) {
            trusted = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(stream);
        }
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("peer", trusted);
        Merlin crypto = new Merlin();
        crypto.setKeyStore(trust);
        crypto.setTrustStore(trust);

        Document doc = parse(inPath);
        List<WSSecurityEngineResult> results = new WSSecurityEngine().processSecurityHeader(doc, null, null, crypto);
        if (results == null) {
            throw new IllegalStateException("no wsse:Security header");
        }
        StringBuilder signed = new StringBuilder();
        String subject = "-";
        for (WSSecurityEngineResult result : results) {
            if (((Integer) result.get(WSSecurityEngineResult.TAG_ACTION)).intValue() != WSConstants.SIGN) {
                continue;
            }
            @SuppressWarnings("unchecked")
            List<WSDataRef> refs = (List<WSDataRef>) result.get(WSSecurityEngineResult.TAG_DATA_REF_URIS);
            for (WSDataRef ref : refs) {
                signed.append(signed.length() == 0 ? "" : ",").append(ref.getName().getLocalPart());
            }
            X509Certificate cert = (X509Certificate) result.get(WSSecurityEngineResult.TAG_X509_CERTIFICATE);
            subject = cert.getSubjectX500Principal().getName().replace(' ', '_');
        }
        if (signed.length() == 0) {
            throw new IllegalStateException("the security header holds no signature");
        }
        return signed + " " + subject;
    }

    static Document parse(String path) throws Exception {
        DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
        factory.setNamespaceAware(true);
        factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        return factory.newDocumentBuilder().parse(new File(path));
    }

    static void write(Document doc, String path) throws Exception {
        Transformer transformer = TransformerFactory.newInstance().newTransformer();
        transformer.setOutputProperty(OutputKeys.ENCODING, "UTF-8");
        transformer.transform(new DOMSource(doc), new StreamResult(new File(path)));
    }
}
