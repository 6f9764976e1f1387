<?php
/**
 * Plugin Name: Sign in with Sight+
 * Description: Readers sign in with their Sight account (OpenID Connect), and the site knows who is Sight+: sight_plus_is_member(), the [sight_plus_only] shortcode and a class on <body>.
 * Version: 1.0.0
 * Requires PHP: 7.4
 * License: GPL-2.0-or-later
 *
 * Uses only WordPress's HTTP API and PHP's openssl. Configure in wp-config.php:
 *   define( 'SIGHT_PLUS_ISSUER', 'https://members.sight.example' );
 *   define( 'SIGHT_PLUS_CLIENT_ID', '…' );
 *   define( 'SIGHT_PLUS_CLIENT_SECRET', '…' );
 * or under Settings → Sign in with Sight+ (constants win).
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

require_once __DIR__ . '/class-sight-plus-jwt.php';

const SIGHT_PLUS_SCOPE         = 'openid email profile sight_plus';
const SIGHT_PLUS_REFRESH_AFTER = HOUR_IN_SECONDS;
const SIGHT_PLUS_COOKIE        = 'sight_plus_sign_in';

// --- settings -----------------------------------------------------------------------------

function sight_plus_setting( $name ) {
	$constant = 'SIGHT_PLUS_' . strtoupper( $name );
	if ( defined( $constant ) ) {
		return constant( $constant );
	}
	$options = get_option( 'sight_plus', array() );
	return isset( $options[ $name ] ) ? trim( $options[ $name ] ) : '';
}

function sight_plus_is_configured() {
	return sight_plus_setting( 'issuer' ) && sight_plus_setting( 'client_id' ) && sight_plus_setting( 'client_secret' );
}

/** The address Sight sends readers back to: register exactly this one for the site. */
function sight_plus_redirect_uri() {
	return add_query_arg( 'action', 'sight_plus_callback', wp_login_url() );
}

add_action(
	'admin_menu',
	function () {
		add_options_page( 'Sign in with Sight+', 'Sign in with Sight+', 'manage_options', 'sight-plus', 'sight_plus_settings_page' );
	}
);

add_action(
	'admin_init',
	function () {
		register_setting(
			'sight_plus',
			'sight_plus',
			array(
				'type'              => 'array',
				'sanitize_callback' => function ( $values ) {
					return array(
						'issuer'        => esc_url_raw( untrailingslashit( isset( $values['issuer'] ) ? $values['issuer'] : '' ) ),
						'client_id'     => sanitize_text_field( isset( $values['client_id'] ) ? $values['client_id'] : '' ),
						'client_secret' => sanitize_text_field( isset( $values['client_secret'] ) ? $values['client_secret'] : '' ),
					);
				},
			)
		);
	}
);

function sight_plus_settings_page() {
	$options = get_option( 'sight_plus', array() );
	echo '<div class="wrap"><h1>Sign in with Sight+</h1>';
	echo '<p>Ask Sight\'s staff to register this site with the redirect address <code>' . esc_html( sight_plus_redirect_uri() ) . '</code>; they give you a client id and a secret.</p>';
	echo '<form method="post" action="options.php">';
	settings_fields( 'sight_plus' );
	echo '<table class="form-table">';
	foreach ( array( 'issuer' => 'Sight\'s address (issuer)', 'client_id' => 'Client id', 'client_secret' => 'Client secret' ) as $name => $label ) {
		$value = isset( $options[ $name ] ) ? $options[ $name ] : '';
		$type  = 'client_secret' === $name ? 'password' : 'text';
		printf(
			'<tr><th scope="row"><label for="sight_plus_%1$s">%2$s</label></th><td><input class="regular-text" type="%3$s" id="sight_plus_%1$s" name="sight_plus[%1$s]" value="%4$s"%5$s></td></tr>',
			esc_attr( $name ),
			esc_html( $label ),
			esc_attr( $type ),
			esc_attr( $value ),
			defined( 'SIGHT_PLUS_' . strtoupper( $name ) ) ? ' disabled' : ''
		);
	}
	echo '</table>';
	submit_button();
	echo '</form></div>';
}

// --- talking to Sight -----------------------------------------------------------------------

function sight_plus_get_json( $url, $args = array() ) {
	$response = wp_remote_get( $url, array_merge( array( 'timeout' => 10 ), $args ) );
	return sight_plus_json_of( $response );
}

function sight_plus_post_form( $url, array $fields ) {
	$response = wp_remote_post(
		$url,
		array(
			'timeout' => 10,
			'headers' => array( 'Authorization' => 'Basic ' . base64_encode( rawurlencode( sight_plus_setting( 'client_id' ) ) . ':' . rawurlencode( sight_plus_setting( 'client_secret' ) ) ) ),
			'body'    => $fields,
		)
	);
	return sight_plus_json_of( $response );
}

function sight_plus_json_of( $response ) {
	if ( is_wp_error( $response ) ) {
		return new WP_Error( 'sight_plus_unreachable', 'Sight could not be reached: ' . $response->get_error_message() );
	}
	$body = json_decode( wp_remote_retrieve_body( $response ), true );
	$code = wp_remote_retrieve_response_code( $response );
	if ( $code < 200 || $code >= 300 || ! is_array( $body ) ) {
		$error = is_array( $body ) && isset( $body['error'] ) ? $body['error'] : 'http_' . $code;
		return new WP_Error( 'sight_plus_' . $error, 'Sight answered ' . $error . '.' );
	}
	return $body;
}

/** The provider's metadata (cached for an hour); its issuer must be the one configured. */
function sight_plus_discovery() {
	$cached = get_transient( 'sight_plus_discovery' );
	if ( is_array( $cached ) && $cached['issuer'] === sight_plus_setting( 'issuer' ) ) {
		return $cached;
	}
	$document = sight_plus_get_json( sight_plus_setting( 'issuer' ) . '/.well-known/openid-configuration' );
	if ( is_wp_error( $document ) ) {
		return $document;
	}
	if ( ! isset( $document['issuer'] ) || $document['issuer'] !== sight_plus_setting( 'issuer' ) ) {
		return new WP_Error( 'sight_plus_issuer', 'Sight\'s discovery document names another issuer.' );
	}
	set_transient( 'sight_plus_discovery', $document, HOUR_IN_SECONDS );
	return $document;
}

/** The provider's keys; fetched again when a token names a key we have not seen (a rotation). */
function sight_plus_jwks( $discovery, $kid ) {
	$jwks = get_transient( 'sight_plus_jwks' );
	$kids = is_array( $jwks ) ? wp_list_pluck( $jwks['keys'], 'kid' ) : array();
	if ( ! is_array( $jwks ) || ( $kid && ! in_array( $kid, $kids, true ) ) ) {
		$jwks = sight_plus_get_json( $discovery['jwks_uri'] );
		if ( is_wp_error( $jwks ) ) {
			return $jwks;
		}
		set_transient( 'sight_plus_jwks', $jwks, HOUR_IN_SECONDS );
	}
	return $jwks;
}

// --- signing in -----------------------------------------------------------------------------

function sight_plus_b64url( $bytes ) {
	return rtrim( strtr( base64_encode( $bytes ), '+/', '-_' ), '=' );
}

function sight_plus_sign_in_url( $redirect_to = '' ) {
	return add_query_arg(
		array(
			'action'      => 'sight_plus',
			'redirect_to' => rawurlencode( $redirect_to ? $redirect_to : home_url( '/' ) ),
		),
		wp_login_url()
	);
}

function sight_plus_fail( $message ) {
	wp_die( esc_html( $message ), 'Sign in with Sight+', array( 'response' => 400, 'back_link' => true ) );
}

/** wp-login.php?action=sight_plus: remember state, nonce and PKCE verifier for this browser, go to Sight. */
add_action(
	'login_form_sight_plus',
	function () {
		if ( ! sight_plus_is_configured() ) {
			sight_plus_fail( 'Sign in with Sight+ is not set up on this site yet.' );
		}
		$discovery = sight_plus_discovery();
		if ( is_wp_error( $discovery ) ) {
			sight_plus_fail( $discovery->get_error_message() );
		}
		$browser  = sight_plus_b64url( random_bytes( 32 ) );
		$state    = sight_plus_b64url( random_bytes( 32 ) );
		$nonce    = sight_plus_b64url( random_bytes( 32 ) );
		$verifier = sight_plus_b64url( random_bytes( 48 ) );
		$redirect = isset( $_GET['redirect_to'] ) ? wp_validate_redirect( wp_unslash( $_GET['redirect_to'] ), home_url( '/' ) ) : home_url( '/' );
		set_transient(
			'sight_plus_attempt_' . hash( 'sha256', $browser ),
			array( 'state' => $state, 'nonce' => $nonce, 'verifier' => $verifier, 'redirect_to' => $redirect ),
			10 * MINUTE_IN_SECONDS
		);
		setcookie( SIGHT_PLUS_COOKIE, $browser, array( 'expires' => time() + 600, 'path' => COOKIEPATH ? COOKIEPATH : '/', 'secure' => is_ssl(), 'httponly' => true, 'samesite' => 'Lax' ) );
		$url = add_query_arg(
			array_map(
				'rawurlencode',
				array(
					'response_type'         => 'code',
					'client_id'             => sight_plus_setting( 'client_id' ),
					'redirect_uri'          => sight_plus_redirect_uri(),
					'scope'                 => SIGHT_PLUS_SCOPE,
					'state'                 => $state,
					'nonce'                 => $nonce,
					'code_challenge'        => sight_plus_b64url( hash( 'sha256', $verifier, true ) ),
					'code_challenge_method' => 'S256',
				)
			),
			$discovery['authorization_endpoint']
		);
		wp_redirect( $url );
		exit;
	}
);

/** wp-login.php?action=sight_plus_callback: check it is this browser's attempt, redeem the code, sign in. */
add_action(
	'login_form_sight_plus_callback',
	function () {
		$browser = isset( $_COOKIE[ SIGHT_PLUS_COOKIE ] ) ? sanitize_text_field( wp_unslash( $_COOKIE[ SIGHT_PLUS_COOKIE ] ) ) : '';
		$key     = 'sight_plus_attempt_' . hash( 'sha256', $browser );
		$attempt = $browser ? get_transient( $key ) : false;
		delete_transient( $key );
		setcookie( SIGHT_PLUS_COOKIE, '', array( 'expires' => time() - 3600, 'path' => COOKIEPATH ? COOKIEPATH : '/' ) );
		$state = isset( $_GET['state'] ) ? sanitize_text_field( wp_unslash( $_GET['state'] ) ) : '';
		if ( ! is_array( $attempt ) || ! hash_equals( $attempt['state'], $state ) ) {
			sight_plus_fail( 'That sign-in did not start here, or took too long. Please try again.' );
		}
		if ( isset( $_GET['error'] ) ) {
			wp_safe_redirect( wp_login_url( $attempt['redirect_to'] ) );
			exit;
		}
		$user = sight_plus_finish_sign_in( isset( $_GET['code'] ) ? sanitize_text_field( wp_unslash( $_GET['code'] ) ) : '', $attempt );
		if ( is_wp_error( $user ) ) {
			sight_plus_fail( $user->get_error_message() );
		}
		wp_set_current_user( $user->ID );
		wp_set_auth_cookie( $user->ID, false, is_ssl() );
		do_action( 'wp_login', $user->user_login, $user );
		wp_safe_redirect( $attempt['redirect_to'] );
		exit;
	}
);

function sight_plus_finish_sign_in( $code, array $attempt ) {
	$discovery = sight_plus_discovery();
	if ( is_wp_error( $discovery ) ) {
		return $discovery;
	}
	$tokens = sight_plus_post_form(
		$discovery['token_endpoint'],
		array(
			'grant_type'    => 'authorization_code',
			'code'          => $code,
			'redirect_uri'  => sight_plus_redirect_uri(),
			'code_verifier' => $attempt['verifier'],
		)
	);
	if ( is_wp_error( $tokens ) ) {
		return $tokens;
	}
	if ( empty( $tokens['id_token'] ) || empty( $tokens['access_token'] ) ) {
		return new WP_Error( 'sight_plus_no_token', 'Sight did not send an ID token.' );
	}
	$jwks = sight_plus_jwks( $discovery, Sight_Plus_JWT::kid( $tokens['id_token'] ) );
	if ( is_wp_error( $jwks ) ) {
		return $jwks;
	}
	try {
		$claims = Sight_Plus_JWT::verify(
			$tokens['id_token'],
			$jwks,
			array( 'issuer' => sight_plus_setting( 'issuer' ), 'client_id' => sight_plus_setting( 'client_id' ), 'nonce' => $attempt['nonce'], 'now' => time() )
		);
	} catch ( Sight_Plus_Token_Error $error ) {
		return new WP_Error( 'sight_plus_bad_token', 'Sight\'s answer could not be trusted (' . $error->getMessage() . ').' );
	}
	$info = sight_plus_get_json( $discovery['userinfo_endpoint'], array( 'headers' => array( 'Authorization' => 'Bearer ' . $tokens['access_token'] ) ) );
	if ( is_wp_error( $info ) ) {
		return $info;
	}
	if ( ! isset( $info['sub'] ) || $info['sub'] !== $claims['sub'] ) {
		return new WP_Error( 'sight_plus_sub', 'Sight\'s answers did not agree about who you are.' );
	}
	$user = sight_plus_user_for( $info );
	if ( is_wp_error( $user ) ) {
		return $user;
	}
	update_user_meta( $user->ID, 'sight_plus_refresh_token', isset( $tokens['refresh_token'] ) ? $tokens['refresh_token'] : '' );
	sight_plus_remember( $user->ID, $info );
	return $user;
}

/**
 * The WordPress user of this Sight reader: the one linked to their `sub`; else the one with their
 * email, only when Sight says the address is confirmed (an unconfirmed one could be anyone's); else
 * a new subscriber.
 */
function sight_plus_user_for( array $info ) {
	$linked = get_users( array( 'meta_key' => 'sight_plus_sub', 'meta_value' => $info['sub'], 'number' => 1 ) );
	if ( $linked ) {
		return $linked[0];
	}
	$email = isset( $info['email'] ) ? sanitize_email( $info['email'] ) : '';
	$user  = $email && ! empty( $info['email_verified'] ) ? get_user_by( 'email', $email ) : false;
	if ( ! $user ) {
		if ( $email && email_exists( $email ) ) {
			return new WP_Error( 'sight_plus_email_taken', 'An account here already uses that email address. Sign in to it with its password; confirm your email with Sight (sign in there once with an emailed link) to link the two.' );
		}
		$base  = sanitize_user( $email ? strstr( $email, '@', true ) : 'reader', true );
		$login = $base ? $base : 'reader';
		for ( $n = 2; username_exists( $login ); $n++ ) {
			$login = $base . $n;
		}
		$id = wp_insert_user(
			array(
				'user_login'   => $login,
				'user_email'   => $email,
				'user_pass'    => wp_generate_password( 32, true, true ),
				'display_name' => isset( $info['name'] ) && $info['name'] ? $info['name'] : $login,
				'role'         => get_option( 'default_role', 'subscriber' ),
			)
		);
		if ( is_wp_error( $id ) ) {
			return $id;
		}
		$user = get_user_by( 'id', $id );
	}
	update_user_meta( $user->ID, 'sight_plus_sub', $info['sub'] );
	return $user;
}

function sight_plus_remember( $user_id, array $info ) {
	update_user_meta( $user_id, 'sight_plus', ! empty( $info['sight_plus'] ) ? '1' : '0' );
	update_user_meta( $user_id, 'sight_plus_until', isset( $info['sight_plus_until'] ) ? $info['sight_plus_until'] : '' );
	update_user_meta( $user_id, 'sight_plus_checked_at', time() );
}

/**
 * At most hourly, ask Sight again (a new access token from the refresh token, which rotates, then
 * userinfo). One request per user at a time: presenting a used refresh token would end the sign-in.
 */
function sight_plus_refresh( $user_id ) {
	$refresh_token = get_user_meta( $user_id, 'sight_plus_refresh_token', true );
	if ( ! $refresh_token || ! add_option( 'sight_plus_lock_' . $user_id, time(), '', 'no' ) ) {
		return;
	}
	try {
		$discovery = sight_plus_discovery();
		if ( is_wp_error( $discovery ) ) {
			return; // Try again on a later page; keep what we knew.
		}
		$tokens = sight_plus_post_form( $discovery['token_endpoint'], array( 'grant_type' => 'refresh_token', 'refresh_token' => $refresh_token ) );
		if ( is_wp_error( $tokens ) ) {
			if ( 'sight_plus_invalid_grant' === $tokens->get_error_code() ) {
				// Signed out of this site from Sight, or the account closed: no longer a member here.
				delete_user_meta( $user_id, 'sight_plus_refresh_token' );
				sight_plus_remember( $user_id, array( 'sight_plus' => false ) );
			}
			return;
		}
		update_user_meta( $user_id, 'sight_plus_refresh_token', $tokens['refresh_token'] );
		$info = sight_plus_get_json( $discovery['userinfo_endpoint'], array( 'headers' => array( 'Authorization' => 'Bearer ' . $tokens['access_token'] ) ) );
		if ( ! is_wp_error( $info ) && isset( $info['sub'] ) && get_user_meta( $user_id, 'sight_plus_sub', true ) === $info['sub'] ) {
			sight_plus_remember( $user_id, $info );
		}
	} finally {
		delete_option( 'sight_plus_lock_' . $user_id );
	}
}

add_action(
	'init',
	function () {
		$user_id = get_current_user_id();
		if ( $user_id && get_user_meta( $user_id, 'sight_plus_sub', true )
			&& (int) get_user_meta( $user_id, 'sight_plus_checked_at', true ) < time() - SIGHT_PLUS_REFRESH_AFTER ) {
			sight_plus_refresh( $user_id );
		}
	}
);

/** Signing out here also tells Sight to forget this site's refresh token (RFC 7009). */
add_action(
	'wp_logout',
	function ( $user_id ) {
		$refresh_token = get_user_meta( $user_id, 'sight_plus_refresh_token', true );
		$discovery     = $refresh_token ? sight_plus_discovery() : null;
		if ( $refresh_token && ! is_wp_error( $discovery ) && ! empty( $discovery['revocation_endpoint'] ) ) {
			sight_plus_post_form( $discovery['revocation_endpoint'], array( 'token' => $refresh_token, 'token_type_hint' => 'refresh_token' ) );
		}
		delete_user_meta( $user_id, 'sight_plus_refresh_token' );
	}
);

// --- what the site uses ---------------------------------------------------------------------

/** Whether the user (default: the signed-in one) is Sight+, as Sight said at most an hour ago. */
function sight_plus_is_member( $user_id = null ) {
	$user_id = null === $user_id ? get_current_user_id() : (int) $user_id;
	if ( ! $user_id || '1' !== get_user_meta( $user_id, 'sight_plus', true ) ) {
		return false;
	}
	$until = get_user_meta( $user_id, 'sight_plus_until', true );
	return ! $until || $until >= wp_date( 'Y-m-d' );
}

add_shortcode(
	'sight_plus_only',
	function ( $attributes, $content = '' ) {
		return sight_plus_is_member() ? do_shortcode( $content ) : '';
	}
);

add_filter(
	'body_class',
	function ( $classes ) {
		$classes[] = sight_plus_is_member() ? 'sight-plus-member' : 'sight-plus-not-member';
		return $classes;
	}
);

function sight_plus_button( $redirect_to ) {
	if ( ! sight_plus_is_configured() ) {
		return '';
	}
	return '<p class="sight-plus-sign-in"><a class="button sight-plus-button" href="' . esc_url( sight_plus_sign_in_url( $redirect_to ) ) . '">Sign in with Sight+</a></p>';
}

add_action(
	'login_form',
	function () {
		$redirect = isset( $_REQUEST['redirect_to'] ) ? wp_unslash( $_REQUEST['redirect_to'] ) : admin_url();
		echo sight_plus_button( wp_validate_redirect( $redirect, home_url( '/' ) ) ); // phpcs:ignore WordPress.Security.EscapeOutput -- escaped in sight_plus_button
	}
);

/** Beside "Leave a Reply": guests (and sites that require signing in to comment) get the button. */
function sight_plus_comment_button() {
	if ( ! is_user_logged_in() ) {
		echo sight_plus_button( get_permalink() . '#respond' ); // phpcs:ignore WordPress.Security.EscapeOutput -- escaped in sight_plus_button
	}
}
add_action( 'comment_form_must_log_in_after', 'sight_plus_comment_button' );
add_action( 'comment_form_before_fields', 'sight_plus_comment_button' );
