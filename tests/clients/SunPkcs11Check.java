/*
 * Java's SunPKCS11 provider against a PKCS#11 module: log in, generate an
 * EC P-256 and an RSA-2048 key pair on the token, sign with each through the
 * module, and check each signature with Java's own software providers. The
 * public keys (SubjectPublicKeyInfo DER) and the signatures are written to
 * OUTDIR so that the calling script can verify them with plain openssl too.
 * With PLAIN_CONFIG, a second provider whose config requests readable
 * private keys generates an EC key pair, and the private key's format is
 * printed: "none" if the module kept the key sensitive, else "PKCS#8".
 *
 * Usage: java SunPkcs11Check.java CONFIG PIN DATAFILE OUTDIR [PLAIN_CONFIG]
 */
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Provider;
import java.security.Security;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.RSAKeyGenParameterSpec;
import java.math.BigInteger;

public class SunPkcs11Check {
	static void check(boolean ok, String what) {
		if (!ok) {
			System.err.println("FAIL: " + what);
			System.exit(1);
		}
		System.out.println("ok: " + what);
	}

	static byte[] sign(Provider p11, PrivateKey key, String alg, byte[] data) throws Exception {
		Signature s = Signature.getInstance(alg, p11);
		s.initSign(key);
		s.update(data);
		return s.sign();
	}

	/* The verifier is Java's software provider, never the module. */
	static boolean verify(KeyPair kp, String alg, String provider, byte[] data, byte[] sig)
		throws Exception {
		Signature v = Signature.getInstance(alg, provider);
		v.initVerify(kp.getPublic());
		v.update(data);
		return v.verify(sig);
	}

	/* Generates an EC key pair with the provider of config and prints its private key's format. */
	static void plainKey(String config, char[] pin) throws Exception {
		Provider plain = Security.getProvider("SunPKCS11").configure(config);
		KeyStore.getInstance("PKCS11", plain).load(null, pin);
		KeyPairGenerator gen = KeyPairGenerator.getInstance("EC", plain);
		gen.initialize(new ECGenParameterSpec("secp256r1"));
		String format = gen.generateKeyPair().getPrivate().getFormat();
		System.out.println("plain EC private key format: " + (format == null ? "none" : format));
	}

	public static void main(String[] args) throws Exception {
		Provider p11 = Security.getProvider("SunPKCS11").configure(args[0]);
		char[] pin = args[1].toCharArray();
		byte[] data = Files.readAllBytes(Path.of(args[2]));
		Path out = Path.of(args[3]);

		Security.addProvider(p11);
		check(p11.getName().equals("SunPKCS11-hsmuxtest"), "provider " + p11.getName());

		KeyStore ks = KeyStore.getInstance("PKCS11", p11);
		try {
			ks.load(null, "wrong-pin".toCharArray());
			check(false, "login with a wrong PIN is refused");
		} catch (java.io.IOException e) {
			check(true, "login with a wrong PIN is refused");
		}
		ks.load(null, pin);
		check(true, "login with the user PIN");

		KeyPairGenerator ecGen = KeyPairGenerator.getInstance("EC", p11);
		ecGen.initialize(new ECGenParameterSpec("secp256r1"));
		KeyPair ec = ecGen.generateKeyPair();
		check(ec.getPrivate().getFormat() == null, "EC private key stays in the token");
		byte[] ecSig = sign(p11, ec.getPrivate(), "SHA256withECDSA", data);
		check(verify(ec, "SHA256withECDSA", "SunEC", data, ecSig),
		      "SHA256withECDSA signature verifies with SunEC");

		KeyPairGenerator rsaGen = KeyPairGenerator.getInstance("RSA", p11);
		rsaGen.initialize(new RSAKeyGenParameterSpec(2048, BigInteger.valueOf(65537)));
		KeyPair rsa = rsaGen.generateKeyPair();
		check(rsa.getPrivate().getFormat() == null, "RSA private key stays in the token");
		byte[] rsaSig = sign(p11, rsa.getPrivate(), "SHA256withRSA", data);
		check(verify(rsa, "SHA256withRSA", "SunRsaSign", data, rsaSig),
		      "SHA256withRSA signature verifies with SunRsaSign");

		byte[] tampered = data.clone();
		tampered[0] ^= 1;
		check(!verify(rsa, "SHA256withRSA", "SunRsaSign", tampered, rsaSig),
		      "the RSA signature does not verify other data");

		if (args.length > 4)
			plainKey(args[4], pin);
		Files.write(out.resolve("ec.pub.der"), ec.getPublic().getEncoded());
		Files.write(out.resolve("ec.sig"), ecSig);
		Files.write(out.resolve("rsa.pub.der"), rsa.getPublic().getEncoded());
		Files.write(out.resolve("rsa.sig"), rsaSig);
		System.out.println("PASS");
	}
}
