#!/usr/bin/python3
"""A desktop notification server (freedesktop.org Desktop Notifications, D-Bus name
org.freedesktop.Notifications) for the browser tests: Chromium on Linux shows a web
page's notifications through it, and acts on a click exactly as it does on a desktop,
when the server sends `ActionInvoked(id, "default")`.

Prints one JSON line per event on stdout ({"event": "notify" | "close" | "clicked"});
reads `click <id>` lines on stdin. Runs on the session bus named by
DBUS_SESSION_BUS_ADDRESS (a private one the test starts)."""

import json
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

NAME = 'org.freedesktop.Notifications'
PATH = '/org/freedesktop/Notifications'


def emit(event):
    print(json.dumps(event), flush=True)


class Server(dbus.service.Object):
    def __init__(self, bus):
        self.last_id = 0
        super().__init__(dbus.service.BusName(NAME, bus), PATH)

    @dbus.service.method(NAME, in_signature='', out_signature='as')
    def GetCapabilities(self):
        return ['actions', 'body', 'persistence']

    @dbus.service.method(NAME, in_signature='', out_signature='ssss')
    def GetServerInformation(self):
        return ('mentorhub-browser-tests', 'mentorhub', '1', '1.2')

    @dbus.service.method(NAME, in_signature='susssasa{sv}i', out_signature='u')
    def Notify(self, app_name, replaces_id, icon, summary, body, actions, hints, timeout):
        if replaces_id:
            nid = int(replaces_id)
        else:
            self.last_id += 1
            nid = self.last_id
        urgency = hints.get('urgency')
        emit({'event': 'notify', 'id': nid, 'replaces': int(replaces_id), 'summary': str(summary),
              'body': str(body), 'actions': [str(a) for a in actions], 'timeout': int(timeout),
              'urgency': None if urgency is None else int(urgency)})
        return dbus.UInt32(nid)

    @dbus.service.method(NAME, in_signature='u', out_signature='')
    def CloseNotification(self, nid):
        emit({'event': 'close', 'id': int(nid)})
        self.NotificationClosed(nid, dbus.UInt32(3))

    @dbus.service.signal(NAME, signature='us')
    def ActionInvoked(self, nid, action):
        pass

    @dbus.service.signal(NAME, signature='uu')
    def NotificationClosed(self, nid, reason):
        pass


def main():
    DBusGMainLoop(set_as_default=True)
    server = Server(dbus.SessionBus())
    loop = GLib.MainLoop()

    def on_input(source, _condition):
        line = source.readline()
        if not line:
            loop.quit()
            return False
        words = line.split()
        if len(words) == 2 and words[0] == 'click':
            server.ActionInvoked(dbus.UInt32(int(words[1])), 'default')
            emit({'event': 'clicked', 'id': int(words[1])})
        return True

    GLib.io_add_watch(sys.stdin, GLib.IO_IN | GLib.IO_HUP, on_input)
    emit({'event': 'ready'})
    loop.run()


if __name__ == '__main__':
    main()
