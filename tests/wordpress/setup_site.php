<?php
// Installs the test WordPress (argv[1]: its wp-load.php; argv[2]: JSON of title, admin password,
// issuer, client id and secret), activates the plugin and the test theme, writes an article.
// Prints the article's address.
$options = json_decode( $argv[2], true );
define( 'WP_INSTALLING', true );
$_SERVER['HTTP_HOST'] = parse_url( $options['home'], PHP_URL_HOST ) . ':' . parse_url( $options['home'], PHP_URL_PORT );
require $argv[1];
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/plugin.php';
wp_install( 'Sight', 'admin', 'admin@site.example', false, '', $options['admin_password'] );
update_option( 'sight_plus', array( 'issuer' => $options['issuer'], 'client_id' => $options['client_id'], 'client_secret' => $options['client_secret'] ) );
update_option( 'permalink_structure', '' );
switch_theme( 'sight-test' );
$activated = activate_plugin( 'sight-plus-sign-in/sight-plus-sign-in.php' );
if ( is_wp_error( $activated ) ) {
	fwrite( STDERR, $activated->get_error_message() );
	exit( 1 );
}
$post = wp_insert_post(
	array(
		'post_title'     => 'A long read',
		'post_content'   => "Everyone reads this.\n\n[sight_plus_only]Thank you for being Sight+.[/sight_plus_only]",
		'post_status'    => 'publish',
		'comment_status' => 'open',
	)
);
echo get_permalink( $post );
