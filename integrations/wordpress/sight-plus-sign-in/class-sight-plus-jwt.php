<?php
/**
 * Checking an ID token from Sight: its RS256 or ES256 signature against the provider's JWKS, then
 * iss, aud, exp, iat and nonce. PHP's openssl only; no WordPress function here, so that the
 * project's tests run it on its own against real tokens.
 */

if ( ! defined( 'ABSPATH' ) && ! defined( 'SIGHT_PLUS_STANDALONE' ) ) {
	exit;
}

class Sight_Plus_Token_Error extends Exception {}

class Sight_Plus_JWT {
	const CLOCK_SKEW = 120;

	public static function b64url_decode( $text ) {
		$padded = strtr( $text, '-_', '+/' );
		$padded .= str_repeat( '=', ( 4 - strlen( $padded ) % 4 ) % 4 );
		$decoded = base64_decode( $padded, true );
		if ( false === $decoded ) {
			throw new Sight_Plus_Token_Error( 'not base64url' );
		}
		return $decoded;
	}

	/**
	 * The claims of `$token` when it is genuine and meant for this site, else an exception.
	 *
	 * @param string $token    The compact JWT.
	 * @param array  $jwks     The provider's key set, decoded.
	 * @param array  $expected issuer, client_id, nonce, and now (a Unix time).
	 */
	public static function verify( $token, array $jwks, array $expected ) {
		$parts = explode( '.', $token );
		if ( 3 !== count( $parts ) ) {
			throw new Sight_Plus_Token_Error( 'not a compact JWT' );
		}
		$header = json_decode( self::b64url_decode( $parts[0] ), true );
		$claims = json_decode( self::b64url_decode( $parts[1] ), true );
		if ( ! is_array( $header ) || ! is_array( $claims ) ) {
			throw new Sight_Plus_Token_Error( 'unreadable header or claims' );
		}
		$alg = isset( $header['alg'] ) ? $header['alg'] : '';
		if ( 'RS256' !== $alg && 'ES256' !== $alg ) {
			throw new Sight_Plus_Token_Error( 'unexpected algorithm' );
		}
		$key = self::find_key( $jwks, isset( $header['kid'] ) ? $header['kid'] : null, $alg );
		$signature = self::b64url_decode( $parts[2] );
		if ( 'ES256' === $alg ) {
			$signature = self::ecdsa_der( $signature );
		}
		$signed = $parts[0] . '.' . $parts[1];
		if ( 1 !== openssl_verify( $signed, $signature, self::public_pem( $key ), OPENSSL_ALGO_SHA256 ) ) {
			throw new Sight_Plus_Token_Error( 'bad signature' );
		}

		$now = $expected['now'];
		$audience = isset( $claims['aud'] ) ? (array) $claims['aud'] : array();
		if ( ! isset( $claims['iss'] ) || $claims['iss'] !== $expected['issuer'] ) {
			throw new Sight_Plus_Token_Error( 'wrong issuer' );
		}
		if ( ! in_array( $expected['client_id'], $audience, true ) ) {
			throw new Sight_Plus_Token_Error( 'not meant for this site' );
		}
		if ( ! isset( $claims['exp'] ) || $claims['exp'] + self::CLOCK_SKEW < $now ) {
			throw new Sight_Plus_Token_Error( 'expired' );
		}
		if ( ! isset( $claims['iat'] ) || $claims['iat'] - self::CLOCK_SKEW > $now ) {
			throw new Sight_Plus_Token_Error( 'issued in the future' );
		}
		if ( ! isset( $claims['nonce'] ) || ! hash_equals( $expected['nonce'], (string) $claims['nonce'] ) ) {
			throw new Sight_Plus_Token_Error( 'wrong nonce' );
		}
		if ( empty( $claims['sub'] ) ) {
			throw new Sight_Plus_Token_Error( 'no subject' );
		}
		return $claims;
	}

	public static function kid( $token ) {
		$parts  = explode( '.', $token );
		$header = json_decode( self::b64url_decode( $parts[0] ), true );
		return is_array( $header ) && isset( $header['kid'] ) ? $header['kid'] : null;
	}

	private static function find_key( array $jwks, $kid, $alg ) {
		$kty = 'RS256' === $alg ? 'RSA' : 'EC';
		foreach ( isset( $jwks['keys'] ) ? $jwks['keys'] : array() as $key ) {
			if ( isset( $key['kty'] ) && $key['kty'] === $kty && ( null === $kid || ( isset( $key['kid'] ) && $key['kid'] === $kid ) ) ) {
				return $key;
			}
		}
		throw new Sight_Plus_Token_Error( 'no such key' );
	}

	// --- a JWK as a PEM public key (DER by hand: PHP's openssl reads PEM, not JWK) ---------------

	private static function der( $tag, $body ) {
		$length = strlen( $body );
		if ( $length < 0x80 ) {
			return chr( $tag ) . chr( $length ) . $body;
		}
		$bytes = ltrim( pack( 'N', $length ), "\0" );
		return chr( $tag ) . chr( 0x80 | strlen( $bytes ) ) . $bytes . $body;
	}

	private static function der_integer( $bytes ) {
		$bytes = ltrim( $bytes, "\0" );
		if ( '' === $bytes || ord( $bytes[0] ) > 0x7f ) {
			$bytes = "\0" . $bytes;
		}
		return self::der( 0x02, $bytes );
	}

	public static function public_pem( array $jwk ) {
		if ( 'RSA' === $jwk['kty'] ) {
			$algorithm = self::der( 0x30, "\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00" );
			$key       = self::der( 0x30, self::der_integer( self::b64url_decode( $jwk['n'] ) ) . self::der_integer( self::b64url_decode( $jwk['e'] ) ) );
		} elseif ( 'EC' === $jwk['kty'] && 'P-256' === $jwk['crv'] ) {
			// id-ecPublicKey, prime256v1; the point uncompressed.
			$algorithm = self::der( 0x30, "\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07" );
			$key       = "\x04" . self::b64url_decode( $jwk['x'] ) . self::b64url_decode( $jwk['y'] );
		} else {
			throw new Sight_Plus_Token_Error( 'unsupported key' );
		}
		$spki = self::der( 0x30, $algorithm . self::der( 0x03, "\0" . $key ) );
		return "-----BEGIN PUBLIC KEY-----\n" . chunk_split( base64_encode( $spki ), 64, "\n" ) . "-----END PUBLIC KEY-----\n";
	}

	/** JWS's ES256 signature is r||s (32 bytes each); openssl wants a DER SEQUENCE of two INTEGERs. */
	private static function ecdsa_der( $signature ) {
		if ( 64 !== strlen( $signature ) ) {
			throw new Sight_Plus_Token_Error( 'bad ES256 signature length' );
		}
		return self::der( 0x30, self::der_integer( substr( $signature, 0, 32 ) ) . self::der_integer( substr( $signature, 32 ) ) );
	}
}
