package main

const installUsage = `sesame install [proxy flags]   start 'sesame proxy' at every logon of this user (Windows)
       sesame uninstall               remove that autostart entry

On Windows this writes the value "sesame" under
HKCU\Software\Microsoft\Windows\CurrentVersion\Run (as px --install does): the
proxy then runs as you, so single sign-on through SSPI works, which a service
(LocalSystem) cannot do. Secrets never go on that command line: put them in
the config file. Elsewhere it prints how to use the systemd user unit
(contrib/systemd/sesame-proxy.service) instead.`

// autostartValue is the name of the Run value (and, elsewhere, the unit).
const autostartValue = "sesame"
