<?php
// Renders the cases of herald's differential test (twig_diff_test.go) with
// real Twig: one process for the whole batch. Usage:
//   php render.php cases.json results.json
// cases.json is [{"template": "...", "context": "<json object>"}, ...];
// results.json is [{"out": "<base64>", "err": "..."}, ...] in the same order.
// Twig runs as an admin's editor would: autoescape off, strict_variables
// off, default time zone UTC.
error_reporting(E_ALL & ~E_WARNING & ~E_NOTICE & ~E_DEPRECATED & ~E_USER_DEPRECATED);
ini_set('display_errors', 'stderr');
date_default_timezone_set('UTC');
$autoload = getenv('TWIG_AUTOLOAD') ?: '/usr/share/php/Twig/autoload.php';
require $autoload;

$cases = json_decode(file_get_contents($argv[1]), true);
$loader = new \Twig\Loader\ArrayLoader([]);
$env = new \Twig\Environment($loader, [
    'autoescape' => false,
    'strict_variables' => false,
    'cache' => false,
    'optimizations' => -1,
]);
$results = [];
foreach ($cases as $c) {
    $res = ['out' => '', 'err' => ''];
    try {
        $ctx = json_decode($c['context'], true, 512);
        if (!is_array($ctx)) {
            $ctx = [];
        }
        $tpl = $env->createTemplate($c['template']);
        $res['out'] = base64_encode($tpl->render($ctx));
    } catch (\Throwable $e) {
        $msg = $e->getMessage();
        if ($e instanceof \Twig\Error\Error) {
            $msg = $e->getRawMessage();
        }
        $res['err'] = get_class($e) . ': ' . mb_substr($msg, 0, 300);
        if ($res['err'] === '') {
            $res['err'] = 'error';
        }
    }
    $results[] = $res;
}
file_put_contents($argv[2], json_encode($results, JSON_INVALID_UTF8_SUBSTITUTE | JSON_UNESCAPED_SLASHES));
