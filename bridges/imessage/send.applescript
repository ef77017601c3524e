-- Steward's iMessage sender. Run as `osascript - TEXT TARGET MODE` with this
-- script on stdin: the text and target arrive as argv, never spliced into the
-- script, so nothing in a message can change what the script does.
--   MODE "chat":        TARGET is a chat guid (DMs and groups: iMessage;-;… any;+;…)
--   MODE "participant": TARGET is a phone number or email, sent over iMessage
--   MODE "sms":         TARGET is a phone number, sent as SMS (needs Text Message Forwarding)
on run argv
	set msg to item 1 of argv
	set target to item 2 of argv
	set mode to item 3 of argv
	tell application "Messages"
		if mode is "chat" then
			send msg to chat id target
		else if mode is "sms" then
			set svc to 1st account whose service type = SMS
			send msg to participant target of svc
		else
			set svc to 1st account whose service type = iMessage
			send msg to participant target of svc
		end if
	end tell
end run
