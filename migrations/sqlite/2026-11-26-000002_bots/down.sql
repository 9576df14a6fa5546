DROP TABLE bot_states;
DROP TABLE bots;
