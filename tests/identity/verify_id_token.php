<?php
// Runs the WordPress plugin's ID token check (integrations/wordpress/…/class-sight-plus-jwt.php)
// on its own: one JSON request on stdin {token, jwks, issuer, client_id, nonce, now}, one JSON
// answer on stdout, {"claims": …} or {"error": "…"}.
define( 'SIGHT_PLUS_STANDALONE', true );
require __DIR__ . '/../../integrations/wordpress/sight-plus-sign-in/class-sight-plus-jwt.php';

$request = json_decode( stream_get_contents( STDIN ), true );
try {
	$claims = Sight_Plus_JWT::verify( $request['token'], $request['jwks'], $request );
	echo json_encode( array( 'claims' => $claims ) );
} catch ( Sight_Plus_Token_Error $error ) {
	echo json_encode( array( 'error' => $error->getMessage() ) );
}
