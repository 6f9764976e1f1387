<!doctype html>
<html <?php language_attributes(); ?>>
<head>
<meta charset="<?php bloginfo( 'charset' ); ?>">
<link rel="stylesheet" href="<?php echo esc_url( get_stylesheet_uri() ); ?>">
<?php wp_head(); ?>
</head>
<body <?php body_class(); ?>>
<main>
<?php
while ( have_posts() ) {
	the_post();
	echo '<article><h1>' . esc_html( get_the_title() ) . '</h1>';
	the_content();
	echo '</article>';
	if ( is_singular() ) {
		comment_form();
	}
}
?>
<aside class="support-us"><h2>Support us</h2><p>Become Sight+: give $26 a year.</p></aside>
<p class="who"><?php echo is_user_logged_in() ? 'Signed in as ' . esc_html( wp_get_current_user()->user_email ) : 'Not signed in'; ?></p>
</main>
<?php wp_footer(); ?>
</body>
</html>
